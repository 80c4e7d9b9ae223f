"""Check a posted DocumentReference against our profile and turn it into plain values.

FHIR create (R4 http.html#create): the body is validated with the R4B model (structure, data
types, required codes), then against the rules of our profile, which follows IHE MHD Minimal
DocumentReference: exactly one ``content`` whose attachment has a ``contentType`` and either
inline ``data`` or a ``url`` to a Binary on this server; ``subject`` a Patient we know; each
``context.related`` an ImagingStudy we hold of the same patient. Any failure is a 422 with the
reasons; the content ends up in a Binary and the attachment points there.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app.archive.documents import Attachment, IndexEntry, NewDocument, sha1_b64
from app.archive.models import Patient, Study
from app.errors import Unprocessable
from app.fhir.models import InvalidResource, validate

DICOM_UID = "urn:dicom:uid"
STATUSES = ("current", "superseded")


@dataclass
class PostedDocument:
    document: NewDocument
    data: bytes | None
    binary_id: str | None


def _fail(*problems: str) -> Unprocessable:
    return Unprocessable("invalid DocumentReference: " + "; ".join(problems))


def _local_id(reference: str, rtype: str, fhir_base: str) -> str | None:
    ref = reference.removeprefix(fhir_base + "/")
    m = re.fullmatch(rf"{rtype}/([A-Za-z0-9\-.]{{1,64}})(/_history/\d+)?", ref)
    return m.group(1) if m else None


def parse_posted(s: Session, body: dict[str, Any], fhir_base: str) -> PostedDocument:
    """Validate a posted DocumentReference; raise Unprocessable (422) with the reasons."""
    if body.get("resourceType") != "DocumentReference":
        raise _fail(f"resourceType must be DocumentReference, not {body.get('resourceType')!r}")
    try:
        model: Any = validate(body)
    except InvalidResource as exc:
        raise _fail(*exc.problems) from None
    problems: list[str] = []
    if model.modifierExtension:
        problems.append("modifierExtension is not supported")
    if model.status not in STATUSES:
        problems.append(f"status must be one of {', '.join(STATUSES)}")
    if model.category and len(model.category) > 1:
        problems.append("at most one category (MHD Minimal)")
    if not model.content or len(model.content) != 1:
        problems.append("exactly one content is required (MHD Minimal)")
    if model.masterIdentifier is not None and not (
        model.masterIdentifier.system and model.masterIdentifier.value
    ):
        problems.append("masterIdentifier needs a system and a value")
    if problems:
        raise _fail(*problems)
    patient = _subject(s, model, fhir_base)
    related = _related(s, model, patient, fhir_base)
    data, binary_id = _content(s, model, fhir_base)
    return PostedDocument(_document(model, body, patient, related), data, binary_id)


def _subject(s: Session, model: Any, fhir_base: str) -> Patient:
    ref = model.subject.reference if model.subject else None
    rid = _local_id(ref or "", "Patient", fhir_base)
    if rid is None:
        raise _fail("subject must reference a Patient on this server (Patient/<id>)")
    found: Patient | None = s.execute(
        select(Patient).where(Patient.resource_id == rid)
    ).scalar_one_or_none()
    if found is None:
        raise _fail(f"subject Patient/{rid} is not known")
    return found


def _related(s: Session, model: Any, patient: Patient, fhir_base: str) -> list[str]:
    uids: list[str] = []
    for item in (model.context.related or []) if model.context else []:
        uid = _local_id(item.reference or "", "ImagingStudy", fhir_base)
        ident = item.identifier
        if uid is None and ident is not None and ident.system == DICOM_UID and ident.value:
            uid = ident.value.removeprefix("urn:oid:")
        if uid is None:
            continue  # a related resource other than a study: kept, not indexed
        study = s.execute(
            select(Study.patient_pk).where(Study.StudyInstanceUID == uid)
        ).scalar_one_or_none()
        if study is None:
            raise _fail(f"context.related ImagingStudy {uid} is not known")
        if study != patient.pk:
            raise _fail(f"context.related ImagingStudy {uid} belongs to another patient")
        uids.append(uid)
    return uids


def _content(s: Session, model: Any, fhir_base: str) -> tuple[bytes | None, str | None]:
    att = model.content[0].attachment
    if not att.contentType:
        raise _fail("content.attachment.contentType is required")
    if (att.data is None) == (att.url is None):
        raise _fail("content.attachment needs either data or a url to a Binary, not both")
    if att.data is not None:
        data = bytes(att.data)
        if att.size is not None and att.size != len(data):
            raise _fail("content.attachment.size does not match the data")
        if att.hash is not None and sha1_b64(data) != _b64(att.hash):
            raise _fail("content.attachment.hash is not the SHA-1 of the data")
        return data, None
    rid = _local_id(str(att.url), "Binary", fhir_base)
    if rid is None:
        raise _fail("content.attachment.url must be a Binary on this server (Binary/<id>)")
    found = s.execute(select(Attachment).where(Attachment.resource_id == rid)).scalar_one_or_none()
    if found is None:
        raise _fail(f"content.attachment.url Binary/{rid} is not known")
    return None, rid


def _b64(value: Any) -> str:
    return base64.b64encode(value).decode() if isinstance(value, bytes) else str(value)


def _codes(kind: str, concept: Any) -> list[IndexEntry]:
    return [
        IndexEntry(kind, c.system or "", c.code, c.display or "")
        for c in (concept.coding or [] if concept else [])
        if c.code
    ]


def _date_part(value: Any) -> str:
    text = str(value or "")[:10]
    return text.replace("-", "") if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else ""


def _document(
    model: Any, body: dict[str, Any], patient: Patient, related: list[str]
) -> NewDocument:
    att = model.content[0].attachment
    index = _codes("type", model.type)
    for cat in model.category or []:
        index += _codes("category", cat)
    index += [IndexEntry("related", DICOM_UID, uid) for uid in related]
    period = model.context.period if model.context else None
    assert patient.pk is not None
    return NewDocument(
        patient_pk=patient.pk,
        source_kind="posted",
        content_type=str(att.contentType),
        master_identifier=model.masterIdentifier.value if model.masterIdentifier else "",
        master_identifier_system=(
            model.masterIdentifier.system if model.masterIdentifier else "urn:ietf:rfc:3986"
        ),
        status=str(model.status),
        title=str(att.title or ""),
        description=str(model.description or ""),
        language=str(att.language or ""),
        creation_date=_date_part(att.creation),
        service_date=_date_part(period.start if period else None),
        date=_instant(body.get("date")),
        index=index,
        resource_json=_stored_json(body),
    )


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def _stored_json(body: dict[str, Any]) -> bytes:
    """The posted resource minus what the server owns or moved to the Binary."""
    kept = {
        k: v
        for k, v in body.items()
        if k not in ("id", "meta", "text", "docStatus", "subject", "masterIdentifier", "status")
    }
    content = dict(kept["content"][0])
    content["attachment"] = {
        k: v
        for k, v in content.get("attachment", {}).items()
        if k not in ("data", "url", "size", "hash", "contentType")
    }
    kept["content"] = [content]
    return json.dumps(kept, separators=(",", ":")).encode("utf-8")
