"""DocumentReference: radiology reports, shaped to IHE MHD Minimal DocumentReference.

Derived reports (encapsulated PDF/CDA, rendered SR) are built from their ``document`` row;
posted ones from the resource the client sent, with the server-owned parts (id, meta, subject,
masterIdentifier, status, date, the attachment's url/size/hash) set from the row. MHD Minimal
requires ``masterIdentifier`` and exactly one ``content`` whose attachment has ``contentType``
and ``url`` but no inline ``data`` (the content is served by Binary), and forbids ``docStatus``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, false, or_, select
from sqlmodel import Session

from app.archive import tombstones
from app.archive.documents import Attachment, Document, DocumentIndex
from app.archive.models import Patient
from app.archive.tombstones import TombstoneKindValues
from app.fhir.conditions import day_column, id_column, instant_column
from app.fhir.patient import chained_identifier, patient_reference
from app.fhir.resource import CANONICAL, Context, Loaded, SqlResource, fhir_date, instant, meta
from app.fhir.search import ParamType, SearchParam, Token

PROFILE = f"{CANONICAL}/imageshare-documentreference"
URI = "urn:ietf:rfc:3986"
DICOM_UID = "urn:dicom:uid"
FORMAT_SYSTEM = "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode"
MIME_SUFFICIENT = {
    "system": FORMAT_SYSTEM,
    "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient",
    "display": "mimeType Sufficient",
}
STATUS_SYSTEM = "http://hl7.org/fhir/document-reference-status"


@dataclass(frozen=True)
class IndexRow:
    kind: str
    system: str
    value: str
    display: str = ""


@dataclass(frozen=True)
class DocumentRow:
    resource_id: str
    patient_id: str
    status: str
    master_system: str
    master_value: str
    title: str
    description: str
    content_type: str
    language: str
    creation_date: str
    service_date: str
    date: datetime
    version: int
    updated_at: datetime
    binary_id: str
    size: int
    sha1: str
    index: list[IndexRow] = field(default_factory=list)
    posted: dict[str, Any] | None = None


def entry_uuid(resource_id: str) -> str:
    return f"urn:uuid:{uuid.UUID(resource_id)}"


def _codes(row: DocumentRow, kind: str) -> dict[str, Any] | None:
    codings = [
        {k: v for k, v in (("system", i.system), ("code", i.value), ("display", i.display)) if v}
        for i in row.index
        if i.kind == kind
    ]
    return {"coding": codings} if codings else None


def _attachment(row: DocumentRow, ctx: Context, posted: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in posted.items() if k not in ("data", "url", "size", "hash")}
    out.update(
        contentType=row.content_type,
        url=f"{ctx.fhir}/Binary/{row.binary_id}",
        size=row.size,
        hash=row.sha1,
    )
    if row.title and "title" not in out:
        out["title"] = row.title
    creation = fhir_date(row.creation_date)
    if creation and "creation" not in out:
        out["creation"] = creation
    if row.language and "language" not in out:
        out["language"] = row.language
    return out


def document_reference(row: DocumentRow, ctx: Context) -> dict[str, Any]:
    """DocumentReference for one document row (pure)."""
    posted = dict(row.posted or {})
    posted.pop("docStatus", None)
    content = (posted.get("content") or [{}])[0]
    out: dict[str, Any] = {
        **posted,
        "resourceType": "DocumentReference",
        "id": row.resource_id,
        "meta": meta(row.version, row.updated_at, PROFILE),
        "masterIdentifier": {
            "use": "usual",
            "system": row.master_system,
            "value": row.master_value,
        },
        "status": row.status,
        "subject": {"reference": f"Patient/{row.patient_id}"},
        "date": instant(row.date),
    }
    ours = {"use": "official", "system": URI, "value": entry_uuid(row.resource_id)}
    out["identifier"] = [i for i in posted.get("identifier", []) if i != ours] + [ours]
    for kind in ("type", "category"):
        codes = _codes(row, kind)
        if kind not in posted and codes:
            out[kind] = codes if kind == "type" else [codes]
    if row.description and "description" not in posted:
        out["description"] = row.description
    attachment = _attachment(row, ctx, content.get("attachment", {}))
    item: dict[str, Any] = {**content, "attachment": attachment}
    if row.posted is None:
        item["format"] = MIME_SUFFICIENT
    out["content"] = [item]
    if row.posted is None:
        out["context"] = _derived_context(row)
    return out


def _derived_context(row: DocumentRow) -> dict[str, Any]:
    context: dict[str, Any] = {
        "related": [
            {
                "reference": f"ImagingStudy/{i.value}",
                "identifier": {"system": DICOM_UID, "value": f"urn:oid:{i.value}"},
            }
            for i in row.index
            if i.kind == "related"
        ]
    }
    day = fhir_date(row.service_date)
    if day:
        context["period"] = {"start": day, "end": day}
    return {k: v for k, v in context.items() if v}


def _row(found: Any, index: list[IndexRow]) -> DocumentRow:
    doc, patient_id, binary_id, size, sha1 = found
    return DocumentRow(
        doc.resource_id,
        patient_id,
        doc.status,
        doc.master_identifier_system,
        doc.master_identifier,
        doc.title,
        doc.description,
        doc.content_type,
        doc.language,
        doc.creation_date,
        doc.service_date,
        doc.date,
        doc.version,
        doc.updated_at,
        binary_id,
        size,
        sha1,
        index,
        json.loads(doc.resource_json) if doc.resource_json else None,
    )


def load_documents(s: Session, pks: list[int], ctx: Context) -> list[Loaded]:
    """Documents with their patient id, attachment facts and index rows (two queries)."""
    if not pks:
        return []
    query = (
        select(
            Document, Patient.resource_id, Attachment.resource_id, Attachment.size, Attachment.sha1
        )
        .join(Patient, Document.patient_pk == Patient.pk)
        .join(Attachment, Document.attachment_pk == Attachment.pk)
    )
    found = {r[0].pk: r for r in s.execute(query.where(Document.pk.in_(pks))).all()}
    index: dict[int, list[IndexRow]] = {}
    for i in s.execute(select(DocumentIndex).where(DocumentIndex.document_pk.in_(pks))).scalars():
        index.setdefault(i.document_pk, []).append(IndexRow(i.kind, i.system, i.value, i.display))
    out = []
    for pk in pks:
        if pk in found:
            doc = found[pk][0]
            resource = document_reference(_row(found[pk], index.get(pk, [])), ctx)
            out.append(
                Loaded(resource, doc.version, doc.updated_at, doc.resource_id, pk, doc.patient_pk)
            )
    return out


def _indexed(kind: str) -> Any:
    def build(values: Sequence[Token], _modifier: str) -> Any:
        conds = []
        for t in values:
            cond: Any
            if t.code is None:
                cond = DocumentIndex.system == (t.system or "")
            else:
                cond = DocumentIndex.value == t.code
                if t.system is not None:
                    cond = and_(cond, DocumentIndex.system == t.system)
            conds.append(cond)
        return exists().where(
            and_(DocumentIndex.document_pk == Document.pk, DocumentIndex.kind == kind, or_(*conds))
        )

    return build


def _related(values: Sequence[Any], modifier: str) -> Any:
    """``related``: ImagingStudy/<uid>, or ``related:identifier=urn:dicom:uid|urn:oid:<uid>``."""
    if modifier == "identifier":
        uids = [
            t.code.removeprefix("urn:oid:")
            for t in values
            if t.code and t.system in (None, DICOM_UID)
        ]
    else:
        uids = [v.id for v in values if v is not None and v.type in (None, "ImagingStudy")]
    if not uids:
        return false()
    return exists().where(
        and_(
            DocumentIndex.document_pk == Document.pk,
            DocumentIndex.kind == "related",
            DocumentIndex.value.in_(uids),
        )
    )


def _status(values: Sequence[Token], _modifier: str) -> Any:
    codes = [t.code for t in values if t.code and t.system in (None, STATUS_SYSTEM)]
    return Document.status.in_(codes) if codes else false()


def _content_type(values: Sequence[Token], _modifier: str) -> Any:
    codes = [t.code for t in values if t.code and t.system in (None, "urn:ietf:bcp:13")]
    return Document.content_type.in_(codes) if codes else false()


_PATIENT = frozenset({"identifier"})
PARAMS = {
    p.name: p
    for p in (
        SearchParam("_id", ParamType.TOKEN, "Logical id", id_column(Document.resource_id)),
        SearchParam(
            "_lastUpdated",
            ParamType.DATE,
            "When the document changed",
            instant_column(Document.updated_at),
        ),
        SearchParam(
            "patient",
            ParamType.REFERENCE,
            "Who the document is about (:identifier)",
            patient_reference(Document.patient_pk),
            _PATIENT,
            "Patient",
        ),
        SearchParam(
            "subject",
            ParamType.REFERENCE,
            "Same as patient",
            patient_reference(Document.patient_pk),
            _PATIENT,
            "Patient",
        ),
        SearchParam(
            "patient.identifier",
            ParamType.TOKEN,
            "Chained: the patient's identifier",
            chained_identifier(Document.patient_pk),
        ),
        SearchParam("type", ParamType.TOKEN, "Kind of document (LOINC)", _indexed("type")),
        SearchParam(
            "category", ParamType.TOKEN, "Categorization of the document", _indexed("category")
        ),
        SearchParam(
            "date",
            ParamType.DATE,
            "When this DocumentReference was created",
            instant_column(Document.date),
        ),
        SearchParam(
            "period",
            ParamType.DATE,
            "Date of the imaging service documented",
            day_column(Document.service_date),
        ),
        SearchParam("status", ParamType.TOKEN, "current | superseded | entered-in-error", _status),
        SearchParam("contenttype", ParamType.TOKEN, "Media type of the content", _content_type),
        SearchParam(
            "related",
            ParamType.REFERENCE,
            "Related ImagingStudy (or :identifier with its urn:dicom:uid)",
            _related,
            frozenset({"identifier"}),
            "ImagingStudy",
        ),
    )
}

RESOURCE = SqlResource(
    name="DocumentReference",
    profile=PROFILE,
    params=PARAMS,
    base=lambda: select(Document.pk),
    pk_column=Document.pk,
    id_column=Document.resource_id,
    patient_column=Document.patient_pk,
    order=lambda: (Document.date.desc(), Document.pk.desc()),
    load=load_documents,
    gone=tombstones.deleted_version(TombstoneKindValues.DOCUMENT),
    mandatory=frozenset({"status", "content"}),
)
