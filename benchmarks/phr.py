"""Package and encrypt a ~500 MB study for a PHR: MB/s and peak memory (docs/benchmarks.md).

    .venv/bin/python benchmarks/phr.py [--mb 500] [--repeat 3] [--key EC|X25519|RSA]

Builds one study in a temporary archive (SQLite + blob store) through the ``Ingestor``: 512x512
16-bit CT images (0.5 MB each) plus two multi-frame instances of ~24 MB (split into 16 MiB JWE
parts) and a PDF report. Then, in a fresh child process per run, so memory figures are not
coloured by building the corpus, it times what the outbox does for a push — plan the package
(index + FHIR Bundle, hashing the split instances), read each file, check its SHA-256, encrypt it
(one compact JWE, A256GCM) and write the multipart ciphertext spool durably — and, separately,
encryption alone with the output discarded (what a pull serves). It reports plaintext MB/s,
MB per CPU second, and the peak RSS growth over the process's size before packaging
(``VmHWM`` − ``VmRSS``). Targets: ≥ 100 MB/s, RSS growth < 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this folder would come first on sys.path and its fhir.py would shadow the
# ``fhir`` namespace package of fhir.resources: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from app.config import Settings  # noqa: E402

TARGET_MBS = 100.0
TARGET_RSS_MB = 200.0


def settings(folder: Path) -> Settings:
    return Settings(data_dir=folder / "data", database_url=f"sqlite:///{folder / 'bench.db'}")


def build(folder: Path, megabytes: int) -> str:
    """Store the study; its Study Instance UID."""
    from pydicom.uid import generate_uid

    from app.archive.service import Archive
    from app.demo import PatientSpec, SeriesSpec, StudySpec, study_files

    per_image = 512 * 512 * 2
    big = SeriesSpec("XC", 2, 512, 512, "multi-frame", photometric="RGB", frames=32)
    big_bytes = 2 * 32 * 512 * 512 * 3
    count = max(1, (megabytes * 1_000_000 - big_bytes) // per_image)
    spec = StudySpec(
        PatientSpec("BENCH-PHR", "Bench^Phr", "19700101", "F"),
        [SeriesSpec("CT", int(count), 512, 512, "Axial"), big],
        study_uid=str(generate_uid()),
        with_pdf_report=True,
    )
    archive = Archive.open(settings(folder))
    batch = []
    for data in study_files(spec):
        temp = archive.store.new_temp()
        temp.write(data)
        temp.close()
        batch.append(temp)
        if len(batch) == 50:
            archive.ingestor.store(batch)
            batch = []
    if batch:
        archive.ingestor.store(batch)
    archive.close()
    return spec.study_uid


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def run_once(folder: Path, uid: str, mode: str, kind: str) -> dict[str, float]:
    """One timed run (in a child process): push path to a spool, or encrypt only."""
    from jwcrypto import jwk
    from sqlalchemy import select
    from sqlmodel import Session

    from app.archive.models import Study
    from app.archive.service import Archive
    from app.fhir.study_bundle import study_collection
    from app.phr.package import encrypt_files, manifest, manifest_entry, plan_study
    from app.phr.push import write_spool

    params = {"EC": {"kty": "EC", "crv": "P-256"}, "X25519": {"kty": "OKP", "crv": "X25519"}}
    key = jwk.JWK.generate(**params.get(kind, {"kty": "RSA", "size": 3072}), kid="k", use="enc")
    cfg = settings(folder)
    archive = Archive.open(cfg, run_migrations=False)
    with Session(archive.engine) as s:
        pk = s.execute(select(Study.pk).where(Study.StudyInstanceUID == uid)).scalar_one()
    base_rss = _status("VmRSS")
    wall, cpu = time.perf_counter(), time.process_time()
    with Session(archive.engine) as s:
        plan = plan_study(s, archive.store, pk, study_collection, cfg.base_url, cfg.phr_part_size)
        files = encrypt_files(s, archive.store, plan.files, key)
        if mode == "push":
            entries = [manifest_entry(f, location=f"cid:{i}") for i, f in enumerate(plan.files)]
            body = manifest("00000000-0000-4000-8000-000000000000", "k", "now", entries)
            spool = cfg.phr_spool_dir / "bench.body"
            out = write_spool(spool, body, files, "bench", lambda: None).size
            spool.unlink()
        else:
            out = sum(len(token) for _, token in files)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    plain = plan.plaintext_bytes / 1e6
    return {
        "plaintext_mb": plain,
        "ciphertext_mb": out / 1e6,
        "files": len(plan.files),
        "seconds": wall,
        "mb_s": plain / wall,
        "mb_cpu_s": plain / cpu,
        "rss_growth_mb": _status("VmHWM") - base_rss,
        "base_rss_mb": base_rss,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--key", choices=["EC", "X25519", "RSA"], default="EC")
    parser.add_argument("--dir", help="where the archive and spool live (default: /dev/shm)")
    parser.add_argument("--child", nargs=3, metavar=("DIR", "UID", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        folder, uid, mode = args.child
        print(json.dumps(run_once(Path(folder), uid, mode, args.key)))
        return 0
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    folder = Path(tempfile.mkdtemp(prefix="phr-bench-", dir=args.dir or shm))
    try:
        started = time.perf_counter()
        uid = build(folder, args.mb)
        print(f"study built in {time.perf_counter() - started:.0f} s; load {os.getloadavg()}")
        results: dict[str, list[dict[str, float]]] = {"push": [], "encrypt": []}
        for _ in range(args.repeat):
            for mode in results:
                cmd = [
                    sys.executable,
                    __file__,
                    "--key",
                    args.key,
                    "--child",
                    str(folder),
                    uid,
                    mode,
                ]
                done = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if done.returncode:
                    raise SystemExit(done.stderr)
                out = done.stdout
                results[mode].append(json.loads(out))
        report(results, args.key)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def report(results: dict[str, list[dict[str, float]]], kind: str) -> None:
    first = results["push"][0]
    print(
        f"{first['plaintext_mb']:.0f} MB plaintext in {first['files']:.0f} files, key {kind}; "
        f"ciphertext {first['ciphertext_mb']:.0f} MB; load {os.getloadavg()}"
    )
    print("| path | MB/s (median; runs) | MB per CPU s | peak RSS growth (max) |")
    print("| --- | --- | --- | --- |")
    for mode, runs in results.items():
        rates = [r["mb_s"] for r in runs]
        print(
            f"| {mode} | {statistics.median(rates):.0f} ({', '.join(f'{x:.0f}' for x in rates)}) "
            f"| {statistics.median(r['mb_cpu_s'] for r in runs):.0f} "
            f"| {max(r['rss_growth_mb'] for r in runs):.0f} MB |"
        )
    worst = min(r["mb_s"] for rs in results.values() for r in rs)
    rss = max(r["rss_growth_mb"] for rs in results.values() for r in rs)
    print(
        f"target ≥ {TARGET_MBS:.0f} MB/s: {'met' if worst >= TARGET_MBS else 'NOT met'} (worst run)"
    )
    print(
        f"target RSS growth < {TARGET_RSS_MB:.0f} MB: {'met' if rss < TARGET_RSS_MB else 'NOT met'}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
