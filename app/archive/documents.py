"""Reports and other documents about a patient's imaging, with their content.

A document is either derived from a DICOM instance at ingest (encapsulated PDF or CDA, a
Structured Report rendered to HTML) or posted by a client. Its content lives in an
``attachment`` row in the database, not in the blob store: reports are small, and writing the
content in the same transaction as the index rows keeps them consistent without a sweep. The
``document_index`` rows make codes and related studies searchable. This module knows nothing
of FHIR: a posted resource is kept as opaque JSON bytes for the HTTP layer to render.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint, delete, func, select
from sqlmodel import Field, Session, SQLModel

from app.archive import tombstones
from app.archive.models import utcnow
from app.archive.tombstones import TombstoneKindValues


class Attachment(SQLModel, table=True):
    """Content bytes with their media type (a FHIR Binary is a view of one)."""

    __tablename__ = "attachment"

    pk: int | None = Field(default=None, primary_key=True)
    resource_id: str = Field(unique=True, index=True)
    #: Whose data this is; None until a document of a patient refers to it.
    patient_pk: int | None = Field(default=None, foreign_key="patient.pk", index=True)
    content_type: str = Field()
    size: int = 0
    #: Base64 of the SHA-1 of the content, the form FHIR Attachment.hash takes.
    sha1: str = Field()
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    version: int = 1


class Document(SQLModel, table=True):
    __tablename__ = "document"
    __table_args__ = (
        UniqueConstraint("master_identifier", name="uq_document_master_identifier"),
        UniqueConstraint("source_sop_instance_uid", name="uq_document_source_sop_instance_uid"),
    )

    pk: int | None = Field(default=None, primary_key=True)
    resource_id: str = Field(unique=True, index=True)
    patient_pk: int = Field(foreign_key="patient.pk", index=True)
    attachment_pk: int = Field(foreign_key="attachment.pk", index=True)
    #: "pdf", "cda" or "sr" when derived from a DICOM instance, "posted" otherwise.
    source_kind: str = Field()
    source_sop_instance_uid: str | None = Field(default=None)
    status: str = Field(default="current", index=True)
    master_identifier_system: str = Field(default="")
    master_identifier: str = Field()
    title: str = Field(default="")
    description: str = Field(default="")
    content_type: str = Field()
    language: str = Field(default="")
    #: Content creation date (YYYYMMDD) and the imaging service date it documents.
    creation_date: str = Field(default="")
    service_date: str = Field(default="")
    date: datetime = Field(default_factory=utcnow, index=True)
    resource_json: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)
    version: int = 1


class DocumentIndex(SQLModel, table=True):
    """Searchable values of a document: ``type``, ``category`` codes and ``related`` studies."""

    __tablename__ = "document_index"
    __table_args__ = (Index("ix_document_index_kind_value", "kind", "value"),)

    pk: int | None = Field(default=None, primary_key=True)
    document_pk: int = Field(foreign_key="document.pk", index=True)
    kind: str = Field()
    system: str = Field(default="")
    value: str = Field()
    display: str = Field(default="")


@dataclass
class IndexEntry:
    kind: str
    system: str
    value: str
    display: str = ""


@dataclass
class NewDocument:
    """Everything needed to store a document, in plain values."""

    patient_pk: int
    source_kind: str
    content_type: str
    master_identifier: str = ""
    master_identifier_system: str = "urn:ietf:rfc:3986"
    status: str = "current"
    title: str = ""
    description: str = ""
    language: str = ""
    creation_date: str = ""
    service_date: str = ""
    date: datetime | None = None
    source_sop_instance_uid: str | None = None
    index: list[IndexEntry] = field(default_factory=list)
    resource_json: bytes | None = None


def new_resource_id() -> str:
    return uuid.uuid4().hex


def sha1_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode()


def store_attachment(
    s: Session, content_type: str, data: bytes, patient_pk: int | None = None
) -> Attachment:
    row = Attachment(
        resource_id=new_resource_id(),
        patient_pk=patient_pk,
        content_type=content_type,
        size=len(data),
        sha1=sha1_b64(data),
        data=data,
    )
    s.add(row)
    s.flush()
    return row


def create_document(s: Session, doc: NewDocument, attachment: Attachment) -> Document:
    """Insert a document over an already stored attachment (which becomes the patient's)."""
    assert attachment.pk is not None
    attachment.patient_pk = doc.patient_pk
    rid = new_resource_id()
    now = utcnow()
    row = Document(
        resource_id=rid,
        patient_pk=doc.patient_pk,
        attachment_pk=attachment.pk,
        source_kind=doc.source_kind,
        source_sop_instance_uid=doc.source_sop_instance_uid,
        status=doc.status,
        master_identifier_system=doc.master_identifier_system,
        master_identifier=doc.master_identifier or f"urn:uuid:{uuid.UUID(rid)}",
        title=doc.title,
        description=doc.description,
        content_type=doc.content_type,
        language=doc.language,
        creation_date=doc.creation_date,
        service_date=doc.service_date,
        date=doc.date or now,
        resource_json=doc.resource_json,
        created_at=now,
        updated_at=now,
    )
    s.add(row)
    s.flush()
    _write_index(s, row, doc.index)
    return row


def upsert_derived(s: Session, doc: NewDocument, data: bytes) -> Document:
    """Create or refresh the document derived from one DICOM instance (re-store, overwrite)."""
    existing: Document | None = s.execute(
        select(Document).where(Document.source_sop_instance_uid == doc.source_sop_instance_uid)
    ).scalar_one_or_none()
    if existing is None:
        return create_document(s, doc, store_attachment(s, doc.content_type, data))
    attachment = s.get(Attachment, existing.attachment_pk)
    assert attachment is not None
    now = utcnow()
    attachment.content_type, attachment.data = doc.content_type, data
    attachment.size, attachment.sha1 = len(data), sha1_b64(data)
    attachment.updated_at, attachment.version = now, attachment.version + 1
    for name in ("patient_pk", "status", "title", "description", "content_type"):
        setattr(existing, name, getattr(doc, name))
    existing.creation_date, existing.service_date = doc.creation_date, doc.service_date
    existing.updated_at, existing.version = now, existing.version + 1
    s.execute(delete(DocumentIndex).where(DocumentIndex.document_pk == existing.pk))
    _write_index(s, existing, doc.index)
    return existing


def _write_index(s: Session, row: Document, entries: Iterable[IndexEntry]) -> None:
    assert row.pk is not None
    for e in entries:
        s.add(
            DocumentIndex(
                document_pk=row.pk, kind=e.kind, system=e.system, value=e.value, display=e.display
            )
        )


def remove_derived(s: Session, sop_instance_uids: list[str]) -> int:
    """Delete the documents derived from these instances (and their content); keep tombstones."""
    if not sop_instance_uids:
        return 0
    rows = list(
        s.execute(
            select(Document).where(Document.source_sop_instance_uid.in_(sop_instance_uids))
        ).scalars()
    )
    for row in rows:
        attachment = s.get(Attachment, row.attachment_pk)
        tombstones.record(s, TombstoneKindValues.DOCUMENT, row.resource_id, row.version + 1)
        s.execute(delete(DocumentIndex).where(DocumentIndex.document_pk == row.pk))
        s.delete(row)
        s.flush()
        if attachment is not None:
            tombstones.record(
                s, TombstoneKindValues.ATTACHMENT, attachment.resource_id, attachment.version + 1
            )
            s.delete(attachment)
    s.flush()
    return len(rows)


def patient_has_documents(s: Session, patient_pk: int) -> bool:
    """Whether posted documents or attachments still belong to this patient."""
    docs = s.execute(select(func.count()).where(Document.patient_pk == patient_pk)).scalar_one()
    atts = s.execute(select(func.count()).where(Attachment.patient_pk == patient_pk)).scalar_one()
    return bool(docs or atts)


def master_identifier_taken(s: Session, value: str) -> bool:
    found = s.execute(select(Document.pk).where(Document.master_identifier == value)).first()
    return found is not None
