"""Synthetic benchmark corpora written once to disk and reused between runs."""

from __future__ import annotations

import json
import random
from pathlib import Path

from app.demo import PatientSpec, SeriesSpec, StudySpec, derived_uid, study_files

SURNAMES = [
    "SMITH",
    "SMITHSON",
    "JONES",
    "BROWN",
    "MILLER",
    "DAVIS",
    "GARCIA",
    "WILSON",
    "MOORE",
    "TAYLOR",
    "ANDERSON",
    "THOMAS",
    "JACKSON",
    "WHITE",
    "HARRIS",
    "MARTIN",
]
GIVEN = ["JOHN", "MARY", "ANNA", "PETER", "LUCY", "OMAR", "CHEN", "SARA", "IVAN", "ZOE"]


def query_corpus(root: Path, studies: int = 2000, per_study: int = 10) -> dict[str, object]:
    """Small images, many studies: for QIDO and metadata. Returns the manifest (cached)."""
    manifest = root / "manifest.json"
    if manifest.exists():
        cached: dict[str, object] = json.loads(manifest.read_text())
        if cached.get("studies") == studies and cached.get("per_study") == per_study:
            return cached
    rng = random.Random(7)
    root.mkdir(parents=True, exist_ok=True)
    uids: list[str] = []
    for i in range(studies):
        modality = "CT" if i % 3 else "MR"
        n = 100 if i == 0 else per_study  # one 100-instance study for the metadata figure
        spec = StudySpec(
            PatientSpec(
                f"PID{i % 700:05d}",
                f"{rng.choice(SURNAMES)}^{rng.choice(GIVEN)}",
                f"19{rng.randint(30, 99)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}",
                rng.choice("MF"),
            ),
            [SeriesSpec(modality, n // 2, 32, 32), SeriesSpec(modality, n - n // 2, 32, 32)],
            study_uid=derived_uid("bench-query", i),
            study_date=f"{2015 + i % 10}{1 + i % 12:02d}{1 + i % 28:02d}",
            accession=f"ACC{i:06d}",
            description=f"{modality} study {i}",
        )
        folder = root / f"{i:05d}"
        folder.mkdir(exist_ok=True)
        for j, data in enumerate(study_files(spec)):
            (folder / f"{j:04d}.dcm").write_bytes(data)
        uids.append(spec.study_uid)
    result = {"studies": studies, "per_study": per_study, "study_uids": uids}
    manifest.write_text(json.dumps(result))
    return result


def ct_corpus(root: Path, studies: int = 4, per_study: int = 500) -> list[Path]:
    """512×512 16-bit CT instances (~0.5 MB each): for STOW, RSS and retrieve figures."""
    files = sorted(root.glob("*/*.dcm"))
    if len(files) == studies * per_study:
        return files
    root.mkdir(parents=True, exist_ok=True)
    for i in range(studies):
        spec = StudySpec(
            PatientSpec(f"CT{i:03d}", "BENCH^CT"),
            [SeriesSpec("CT", per_study, 512, 512)],
            study_uid=derived_uid("bench-ct", i),
            description="bench CT",
        )
        folder = root / f"{i:03d}"
        folder.mkdir(exist_ok=True)
        for j, data in enumerate(study_files(spec)):
            (folder / f"{j:04d}.dcm").write_bytes(data)
    return sorted(root.glob("*/*.dcm"))
