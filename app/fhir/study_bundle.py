"""One study as a FHIR Bundle of type ``collection``: the FHIR file of a PHR package.

Built from the same pure row → resource mappings the REST API serves (ImagingStudy, Patient,
DocumentReference, Endpoint), so a package and a FHIR read can never disagree. The reports are
the patient's current DocumentReferences whose ``context.related`` names the study; their
attachments travel as files of their own, listed here for the packager. No HTTP: the PHR
service receives ``study_collection`` from the composition root (``app.main``, ``app.cli``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, select
from sqlmodel import Session

from app.archive.documents import Document, DocumentIndex
from app.archive.models import Study
from app.errors import NotFound
from app.fhir import document_reference, endpoint, imaging_study, patient
from app.fhir.resource import Context, Loaded, instant


@dataclass(frozen=True)
class AttachmentRef:
    attachment_pk: int
    reference: str


@dataclass(frozen=True)
class StudyCollection:
    bundle: dict[str, Any]
    attachments: list[AttachmentRef]


def study_collection(s: Session, study_pk: int, base_url: str) -> StudyCollection:
    """Patient, ImagingStudy, its current reports and the DICOMweb Endpoint, in that order."""
    ctx = Context(base_url)
    studies = imaging_study.load_studies(s, [study_pk], ctx)
    if not studies:
        raise NotFound("no such study")
    study = studies[0]
    items: list[Loaded] = list(patient.RESOURCE.load(s, [study.patient_pk or 0], ctx))
    items.append(study)
    uid = s.execute(select(Study.StudyInstanceUID).where(Study.pk == study_pk)).scalar_one()
    reports = document_reference.load_documents(s, _report_pks(s, study.patient_pk or 0, uid), ctx)
    items.extend(reports)
    items.append(endpoint.loaded(ctx))
    attachments = [
        AttachmentRef(pk, f"DocumentReference/{item.id}")
        for item, pk in zip(reports, _attachment_pks(s, reports), strict=True)
    ]
    bundle = {
        "resourceType": "Bundle",
        "id": uuid.uuid4().hex,
        "meta": {"lastUpdated": instant(datetime.now(UTC))},
        "type": "collection",
        "timestamp": instant(datetime.now(UTC)),
        "entry": [
            {"fullUrl": f"{ctx.fhir}/{item.type}/{item.id}", "resource": item.resource}
            for item in items
        ],
    }
    return StudyCollection(bundle, attachments)


def _report_pks(s: Session, patient_pk: int, study_uid: str) -> list[int]:
    query = (
        select(Document.pk)
        .join(DocumentIndex, DocumentIndex.document_pk == Document.pk)
        .where(
            and_(
                Document.patient_pk == patient_pk,
                Document.status == "current",
                DocumentIndex.kind == "related",
                DocumentIndex.value == study_uid,
            )
        )
        .order_by(Document.date, Document.pk)
    )
    return list(dict.fromkeys(s.execute(query).scalars()))


def _attachment_pks(s: Session, reports: list[Loaded]) -> list[int]:
    found: dict[int, int] = dict(
        s.execute(
            select(Document.pk, Document.attachment_pk).where(
                Document.pk.in_([r.pk for r in reports])
            )
        ).all()
    )
    return [found[r.pk] for r in reports]
