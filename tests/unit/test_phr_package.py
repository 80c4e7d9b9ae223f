"""Planning and encrypting a study's package (app.phr.package) over a real archive (database and
blob store, no HTTP): file order and hashes, split instances, integrity checks, and a manifest
and Bundle that say what docs/phr-package.md says."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from fhir.resources.R4B.bundle import Bundle
from jwcrypto import jwk
from pydicom.uid import generate_uid
from sqlalchemy import select
from sqlmodel import Session

from app.archive.models import Study
from app.archive.service import Archive
from app.config import Settings
from app.demo import PatientSpec, SeriesSpec, StudySpec, study_files
from app.fhir.study_bundle import study_collection
from app.phr.package import (
    FHIR_JSON,
    IntegrityError,
    Plan,
    encrypt_files,
    manifest,
    manifest_entry,
    plan_study,
    read_plaintext,
)
from examples.phr_receiver.unpack import decrypt
from tests.conftest import fresh_database
from tests.fhir_helpers import check_resource

PART = 64 * 1024
BASE = "https://imageshare.example"


def spec() -> StudySpec:
    return StudySpec(
        PatientSpec("PKG-1", "Packer^Pat", "19800101", "F"),
        [SeriesSpec("CT", 3, 32, 32, "small"), SeriesSpec("MR", 2, 256, 256, "large")],
        study_uid=str(generate_uid()),
        accession="ACC-PKG",
        description="Package test",
        with_pdf_report=True,
    )


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[tuple[Archive, StudySpec, list[bytes]]]:
    with fresh_database(tmp_path) as url:
        archive = Archive.open(Settings(data_dir=tmp_path / "data", database_url=url))
        study = spec()
        files = list(study_files(study))
        temps = []
        for data in files:
            temp = archive.store.new_temp()
            temp.write(data)
            temp.close()
            temps.append(temp)
        assert all(not r.failed for r in archive.ingestor.store(temps))
        yield archive, study, files
        archive.close()


def plan_for(archive: Archive, uid: str, part: int = PART) -> Plan:
    with Session(archive.engine) as s:
        pk = s.execute(select(Study.pk).where(Study.StudyInstanceUID == uid)).scalar_one()
        return plan_study(s, archive.store, pk, study_collection, BASE, part)


def test_plan_order_hashes_and_parts(archive: tuple[Archive, StudySpec, list[bytes]]) -> None:
    arch, study, files = archive
    plan = plan_for(arch, study.study_uid)
    bundle, report, *dicom = plan.files
    assert bundle.content_type == FHIR_JSON and bundle.data is not None
    assert report.content_type == "application/pdf"
    assert report.reference and report.reference.startswith("DocumentReference/")
    assert {f.content_type for f in dicom} == {"application/dicom"}
    whole = [f for f in dicom if f.part is None]
    parts = [f for f in dicom if f.part is not None]
    # 3 small CT images and the PDF's instance fit in one part; the 2 MR images (128 KiB) split.
    assert len(whole) == 4 and len({p.part.group for p in parts if p.part}) == 2
    sha = {hashlib.sha256(b).hexdigest(): b for b in files}
    assert {f.sha256 for f in whole} <= set(sha)
    for f in parts:
        assert f.part is not None and f.part.sha256 in sha and f.part.count == 3
        original = sha[f.part.sha256]
        assert f.offset == f.part.index * PART
        assert f.sha256 == hashlib.sha256(original[f.offset : f.offset + f.size]).hexdigest()
    assert plan.plaintext_bytes == sum(f.size for f in plan.files)


def test_encrypted_files_round_trip(archive: tuple[Archive, StudySpec, list[bytes]]) -> None:
    arch, study, files = archive
    plan = plan_for(arch, study.study_uid)
    key = jwk.JWK.generate(kty="EC", crv="P-256", kid="phr", use="enc")
    keyset = jwk.JWKSet()
    keyset.add(key)
    joined: dict[int, list[bytes]] = {}
    out: list[bytes] = []
    with Session(arch.engine) as s:
        for f, token in encrypt_files(s, arch.store, plan.files, key):
            data, header = decrypt(token, keyset)
            assert header["cty"] == f.content_type and header["kid"] == "phr"
            assert hashlib.sha256(data).hexdigest() == f.sha256
            if f.part is not None:
                joined.setdefault(f.part.group, []).append(data)
            elif f.content_type == "application/dicom":
                out.append(data)
            elif f.content_type == FHIR_JSON:
                check_bundle(json.loads(data), study)
    out += [b"".join(chunks) for chunks in joined.values()]
    assert sorted(out) == sorted(files)  # every instance byte-identical
    assert plan.files[0].data is None  # the Bundle's plaintext is not kept


def check_bundle(bundle: dict[str, object], study: StudySpec) -> None:
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection"
    entries = bundle["entry"]
    assert isinstance(entries, list)
    types = [e["resource"]["resourceType"] for e in entries]
    assert types == ["Patient", "ImagingStudy", "DocumentReference", "Endpoint"]
    for e in entries:
        check_resource(e["resource"])
        assert e["fullUrl"].startswith(f"{BASE}/fhir/")
    imaging = entries[1]["resource"]
    assert imaging["id"] == study.study_uid and imaging["numberOfSeries"] == 3


def test_manifest_names_no_patient(archive: tuple[Archive, StudySpec, list[bytes]]) -> None:
    arch, study, _ = archive
    plan = plan_for(arch, study.study_uid)
    entries = [manifest_entry(f, location=f"cid:file{i}") for i, f in enumerate(plan.files)]
    body = manifest("0b8e3cbb-5d35-4a33-9b3c-6c0b4a3f4f4e", "phr", "2026-01-01T00:00:00Z", entries)
    doc = json.loads(body)
    assert doc["profile"] == "urn:imageshare:phr-package:1" and len(doc["files"]) == 12
    assert {"contentType", "location", "sha256", "size"} <= set(doc["files"][0])
    for secret in (b"PKG-1", b"Packer", study.study_uid.encode(), b"ACC-PKG", b"19800101"):
        assert secret not in body
    series_uids = {ds.SeriesInstanceUID for ds in map(_read, study_files(study))}
    assert not any(uid.encode() in body for uid in series_uids)


def _read(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)


def test_corrupted_blob_is_refused(archive: tuple[Archive, StudySpec, list[bytes]]) -> None:
    arch, study, _ = archive
    plan = plan_for(arch, study.study_uid)
    target = next(f for f in plan.files if f.blob_key and f.part is None)
    path = arch.store.path(target.blob_key or "")
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with Session(arch.engine) as s, pytest.raises(IntegrityError):
        read_plaintext(s, arch.store, target)
    big = next(f for f in plan.files if f.part is not None)
    raw = bytearray(arch.store.path(big.blob_key or "").read_bytes())
    raw[10] ^= 0xFF
    arch.store.path(big.blob_key or "").write_bytes(bytes(raw))
    with pytest.raises(IntegrityError):  # planning hashes split instances and checks the whole
        plan_for(arch, study.study_uid)
