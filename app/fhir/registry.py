"""The resource types this server serves, with their interactions and _include/_revinclude.

Routes and the CapabilityStatement are both generated from ``REGISTRY``, so the statement
cannot claim what is not routed. Includes go through ``SqlResource.scoped`` like every other
query, so a compartment restricts included resources too, and each is capped by ``limit``.

Reverse includes: R4's DocumentReference search parameter ``related`` (context.related) links
a report to its ImagingStudy, so ``_revinclude=DocumentReference:related`` on an ImagingStudy
search returns the reports of the matched studies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, exists, select
from sqlmodel import Session

from app.archive.documents import Document, DocumentIndex
from app.archive.models import Study
from app.fhir import binary, document_reference, endpoint, imaging_study, patient
from app.fhir.resource import (
    Compartment,
    Context,
    IncludeFetch,
    Loaded,
    ResourceType,
    SqlResource,
)

SEARCH_READ = ("read", "vread", "search-type")


def _patients(
    s: Session, matched: list[Loaded], c: Compartment, ctx: Context, limit: int
) -> list[Loaded]:
    pks = sorted({m.patient_pk for m in matched if m.patient_pk is not None})
    return patient.RESOURCE.load_visible(s, pks, c, ctx, limit)


def _endpoint(
    s: Session, matched: list[Loaded], c: Compartment, ctx: Context, limit: int
) -> list[Loaded]:
    return [endpoint.loaded(ctx)] if matched and limit > 0 else []


def _where(target: SqlResource, condition: Callable[[list[Loaded]], Any]) -> IncludeFetch:
    """Include the rows of ``target`` matching ``condition(matched)``, scoped and capped."""

    def fetch(
        s: Session, matched: list[Loaded], c: Compartment, ctx: Context, limit: int
    ) -> list[Loaded]:
        if not matched:
            return []
        query = target.scoped(c).where(condition(matched))
        pks = list(s.execute(query.order_by(*target.order()).limit(limit)).scalars())
        return target.load(s, pks, ctx)

    return fetch


def _documents_of_studies(matched: list[Loaded]) -> Any:
    uids = [m.key for m in matched]
    return exists().where(
        and_(
            DocumentIndex.document_pk == Document.pk,
            DocumentIndex.kind == "related",
            DocumentIndex.value.in_(uids),
        )
    )


def _studies_of_documents(matched: list[Loaded]) -> Any:
    inner = select(DocumentIndex.value).where(
        DocumentIndex.kind == "related", DocumentIndex.document_pk.in_([m.pk for m in matched])
    )
    return Study.StudyInstanceUID.in_(inner)


def _of_patients(column: Any) -> Callable[[list[Loaded]], Any]:
    return lambda matched: column.in_([m.pk for m in matched])


IMAGING_STUDY = dataclasses.replace(
    imaging_study.RESOURCE,
    includes={
        "ImagingStudy:patient": _patients,
        "ImagingStudy:subject": _patients,
        "ImagingStudy:endpoint": _endpoint,
    },
    revincludes={
        "DocumentReference:related": _where(document_reference.RESOURCE, _documents_of_studies),
    },
)
DOCUMENT_REFERENCE = dataclasses.replace(
    document_reference.RESOURCE,
    includes={
        "DocumentReference:patient": _patients,
        "DocumentReference:subject": _patients,
        "DocumentReference:related": _where(imaging_study.RESOURCE, _studies_of_documents),
    },
)
_studies_of_patients = _where(imaging_study.RESOURCE, _of_patients(Study.patient_pk))
_documents_of_patients = _where(document_reference.RESOURCE, _of_patients(Document.patient_pk))
PATIENT = dataclasses.replace(
    patient.RESOURCE,
    revincludes={
        "ImagingStudy:patient": _studies_of_patients,
        "ImagingStudy:subject": _studies_of_patients,
        "DocumentReference:patient": _documents_of_patients,
        "DocumentReference:subject": _documents_of_patients,
    },
)

#: Every served type with the interactions routed for it (CapabilityStatement codes).
REGISTRY: dict[str, tuple[ResourceType, tuple[str, ...]]] = {
    "ImagingStudy": (IMAGING_STUDY, SEARCH_READ),
    "Patient": (PATIENT, SEARCH_READ),
    "DocumentReference": (DOCUMENT_REFERENCE, (*SEARCH_READ, "create")),
    "Endpoint": (endpoint.RESOURCE, SEARCH_READ),
    "Binary": (binary.RESOURCE, ("read", "vread", "create")),
}
