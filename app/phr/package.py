"""Plan the files of a study's PHR package and encrypt them one at a time (docs/phr-package.md).

A package is a manifest shaped like a SMART Health Links manifest plus one compact JWE per file:
the FHIR Bundle (Patient, ImagingStudy, DocumentReference, Endpoint), each report attachment,
and every DICOM instance exactly as stored. Planning reads the index, not the files (an
instance's SHA-256 was computed at ingest), except for instances larger than the part size:
those are split into parts, each its own JWE, whose hashes planning computes by reading the
blob. Encryption then reads one file, checks its hash against the plan, encrypts it and hands it
on before reading the next, so memory holds at most one part whatever the study's size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from jwcrypto import jwk
from sqlalchemy import select
from sqlmodel import Session

from app.archive.blobs import BlobStore
from app.archive.documents import Attachment
from app.archive.models import Instance, Series, Study
from app.errors import NotFound
from app.phr.jwe import encrypt_file

PROFILE = "urn:imageshare:phr-package:1"
FHIR_JSON = "application/fhir+json"
DICOM = "application/dicom"
DEFAULT_PART_SIZE = 16 * 1024 * 1024


class AttachmentRef(Protocol):
    """A report attachment of the study, as the FHIR layer lists it."""

    @property
    def attachment_pk(self) -> int: ...
    @property
    def reference(self) -> str: ...


class StudyCollection(Protocol):
    @property
    def bundle(self) -> dict[str, Any]: ...
    @property
    def attachments(self) -> Sequence[AttachmentRef]: ...


#: Builds the study's FHIR Bundle and lists its reports (``app.fhir.study_bundle``), injected by
#: the composition root so this service never imports the FHIR HTTP package.
StudyResources = Callable[[Session, int, str], StudyCollection]


class IntegrityError(Exception):
    """Stored bytes no longer match the hash recorded for them (the package is not sent)."""


@dataclass(frozen=True)
class Part:
    """Where a file sits in a split instance; ``sha256``/``size`` are the whole instance's."""

    group: int
    index: int
    count: int
    sha256: str
    size: int


@dataclass
class PlannedFile:
    """One file of the package: its plaintext's type, hash and size, and where it comes from."""

    content_type: str
    sha256: str
    size: int
    blob_key: str | None = None
    offset: int = 0
    attachment_pk: int | None = None
    reference: str | None = None
    part: Part | None = None
    #: In-memory content (the Bundle): never persisted, dropped after encryption.
    data: bytes | None = field(default=None, repr=False)


@dataclass
class Plan:
    study_uid: str
    patient_pk: int
    files: list[PlannedFile]

    @property
    def plaintext_bytes(self) -> int:
        return sum(f.size for f in self.files)


def plan_study(
    s: Session,
    store: BlobStore,
    study_pk: int,
    resources: StudyResources,
    base_url: str,
    part_size: int = DEFAULT_PART_SIZE,
) -> Plan:
    """Every file of the study's package, in order: Bundle, reports, DICOM instances."""
    study = s.get(Study, study_pk)
    if study is None:
        raise NotFound("the study is no longer in the archive")
    collection = resources(s, study_pk, base_url)
    bundle = orjson.dumps(collection.bundle)
    files = [PlannedFile(FHIR_JSON, _sha256(bundle), len(bundle), data=bundle)]
    for ref in collection.attachments:
        row = s.get(Attachment, ref.attachment_pk)
        if row is not None:
            files.append(
                PlannedFile(
                    row.content_type,
                    _sha256(row.data),
                    len(row.data),
                    attachment_pk=row.pk,
                    reference=ref.reference,
                )
            )
    files.extend(_instance_files(s, store, study_pk, part_size))
    return Plan(study.StudyInstanceUID, study.patient_pk, files)


def _instance_files(
    s: Session, store: BlobStore, study_pk: int, part_size: int
) -> Iterator[PlannedFile]:
    query = (
        select(Instance.blob_key, Instance.size, Instance.sha256)
        .join(Series, Instance.series_pk == Series.pk)
        .where(Instance.study_pk == study_pk)
        .order_by(Series.SeriesNumber, Series.pk, Instance.InstanceNumber, Instance.pk)
    )
    for group, (key, size, sha) in enumerate(s.execute(query).all()):
        if size <= part_size:
            yield PlannedFile(DICOM, sha, size, blob_key=key)
        else:
            yield from _parts(store, key, size, sha, group, part_size)


def _parts(
    store: BlobStore, key: str, size: int, sha: str, group: int, part_size: int
) -> list[PlannedFile]:
    """Split a large instance; hash each part while checking the whole against the index."""
    count = -(-size // part_size)
    whole = hashlib.sha256()
    out = []
    with store.open(key) as fh:
        for index in range(count):
            data = fh.read(part_size)
            whole.update(data)
            part = Part(group, index, count, sha, size)
            out.append(
                PlannedFile(DICOM, _sha256(data), len(data), key, index * part_size, part=part)
            )
    if whole.hexdigest() != sha:
        raise IntegrityError("a stored instance does not match its recorded SHA-256")
    return out


def read_plaintext(s: Session, store: BlobStore, f: PlannedFile) -> bytes:
    """The file's bytes, checked against the planned hash."""
    if f.data is not None:
        data = f.data
    elif f.attachment_pk is not None:
        row = s.get(Attachment, f.attachment_pk)
        if row is None:
            raise NotFound("a report of the study was removed")
        data = row.data
    else:
        assert f.blob_key is not None
        with store.open(f.blob_key) as fh:
            fh.seek(f.offset)
            data = fh.read(f.size)
    if len(data) != f.size or _sha256(data) != f.sha256:
        raise IntegrityError("stored content does not match its recorded SHA-256")
    return data


def encrypt_files(
    s: Session, store: BlobStore, files: list[PlannedFile], key: jwk.JWK
) -> Iterator[tuple[PlannedFile, bytes]]:
    """Each planned file with its compact JWE, produced one at a time."""
    for f in files:
        yield f, encrypt_file(read_plaintext(s, store, f), key, f.content_type)
        f.data = None


def manifest_entry(f: PlannedFile, **where: str) -> dict[str, Any]:
    """The manifest's ``files[]`` entry: ``where`` is ``location=…`` or ``embedded=…``."""
    entry: dict[str, Any] = {"contentType": f.content_type, **where}
    entry["sha256"] = f.sha256
    entry["size"] = f.size
    if f.reference:
        entry["reference"] = f.reference
    if f.part is not None:
        p = f.part
        entry["part"] = {
            "group": p.group,
            "index": p.index,
            "count": p.count,
            "sha256": p.sha256,
            "size": p.size,
        }
    return entry


def manifest(package_id: str, kid: str, created: str, entries: list[dict[str, Any]]) -> bytes:
    """The manifest document (JSON bytes); it names no patient and no UID."""
    return orjson.dumps(
        {"profile": PROFILE, "id": package_id, "created": created, "kid": kid, "files": entries}
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
