"""Builds the Binary fixtures of the DICOMweb suite: a small multipart/related STOW body and a
broken one. ``python -m tests.conformance.dicomweb_fixtures`` rewrites them; a test checks the
committed files still equal what this builds (so the suite's UIDs stay the ones it asserts)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import pydicom

from app.demo import PatientSpec, SeriesSpec, StudySpec, pdf_report, study_files

FOLDER = Path(__file__).resolve().parents[2] / "conformance" / "suites" / "dicomweb" / "fixtures"
STUDY_UID = "2.25.90210123456789012345678901234567"
SECOND_STUDY_UID = "2.25.90210123456789012345678901234568"
BOUNDARY = "imageshare-conformance-boundary"


def study(uid: str = STUDY_UID, modality: str = "CT") -> StudySpec:
    return StudySpec(
        PatientSpec("CONF-001", "Conformance^Test", "19700101", "O"),
        [SeriesSpec(modality, 2, 16, 16, "Conformance series")],
        study_uid=uid,
        accession="CONF-1" if uid == STUDY_UID else "CONF-2",
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


def _uid(*parts: object) -> str:
    """A fixed 2.25 UID from its parts, pinned here so the fixtures never change when
    app.demo's UID derivation does."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:16]
    return f"2.25.{int.from_bytes(digest, 'big')}"


def _fixed_uids(data: bytes, number: int, report: bool = False) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    uid = ds.StudyInstanceUID
    ds.SeriesInstanceUID = _uid(uid, "report" if report else "series")
    if "FrameOfReferenceUID" in ds:
        ds.FrameOfReferenceUID = _uid(uid, "frame")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = _uid(uid, number, report)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def fixtures() -> dict[str, dict[str, str]]:
    files = [_fixed_uids(f, n) for n, f in enumerate(study_files(study()), 1)]
    ctype = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
    mr_files = study_files(study(SECOND_STUDY_UID, "MR"))
    second = [_fixed_uids(f, n) for n, f in enumerate(mr_files, 1)]
    report = _fixed_uids(pdf_report(study()), 1, report=True)
    return {
        "stow-second-study.json": binary(multipart(second), ctype),
        "stow-report.json": binary(multipart([report]), ctype),
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
