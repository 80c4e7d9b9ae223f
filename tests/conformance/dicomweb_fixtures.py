"""Builds the Binary fixtures of the DICOMweb suite: a small multipart/related STOW body and a
broken one. ``python -m tests.conformance.dicomweb_fixtures`` rewrites them; a test checks the
committed files still equal what this builds (so the suite's UIDs stay the ones it asserts)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from app.demo import PatientSpec, SeriesSpec, StudySpec, study_files

FOLDER = Path(__file__).resolve().parents[2] / "conformance" / "suites" / "dicomweb" / "fixtures"
STUDY_UID = "2.25.90210123456789012345678901234567"
BOUNDARY = "imageshare-conformance-boundary"


def study() -> StudySpec:
    return StudySpec(
        PatientSpec("CONF-001", "Conformance^Test", "19700101", "O"),
        [SeriesSpec("CT", 2, 16, 16, "Conformance series")],
        study_uid=STUDY_UID,
        accession="CONF-1",
        description="Conformance suite study",
    )


def multipart(parts: list[bytes], close: bool = True) -> bytes:
    body = b""
    for part in parts:
        body += f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part + b"\r\n"
    if close:
        body += f"--{BOUNDARY}--\r\n".encode()
    return body


def binary(data: bytes, content_type: str) -> dict[str, str]:
    return {
        "resourceType": "Binary",
        "contentType": content_type,
        "data": base64.b64encode(data).decode(),
    }


def fixtures() -> dict[str, dict[str, str]]:
    files = list(study_files(study()))
    ctype = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
    return {
        "stow-study.json": binary(multipart(files), ctype),
        "broken-multipart.json": binary(multipart(files[:1], close=False)[:-40], ctype),
        "single-instance.json": binary(files[0], "application/dicom"),
    }


def write() -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    for name, resource in fixtures().items():
        (FOLDER / name).write_text(json.dumps(resource, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write()
