"""Patient, study and series rows: created on first sight, locked while a batch adds to them.

Rows are inserted with ``ON CONFLICT DO NOTHING`` and then read ``FOR UPDATE`` so concurrent
stores into one study serialise on its row and the counts stay exact (PostgreSQL READ
COMMITTED sees rows committed by the transaction it waited for; SQLite has one writer anyway).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel

from app.archive.header import ParsedInstance
from app.archive.models import Instance, Patient, Series, Study, utcnow


def _insert_ignore(
    s: Session, model: type[SQLModel], values: dict[str, Any], conflict: list[str]
) -> None:
    dialect = s.get_bind().dialect.name
    table = model.__table__
    stmt: Any
    if dialect == "postgresql":
        stmt = pg_insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict)
    else:
        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict)
    s.execute(stmt)


def get_or_create_patient(s: Session, parsed: ParsedInstance) -> Patient:
    p = parsed.patient
    ident = {"PatientID": p["PatientID"], "IssuerOfPatientID": p["IssuerOfPatientID"]}
    found: Patient | None = s.execute(select(Patient).filter_by(**ident)).scalar_one_or_none()
    if found is not None:
        return found
    now = utcnow()
    values = {
        "resource_id": uuid.uuid4().hex,
        "PatientName": p["PatientName"],
        "patient_name_norm": p["patient_name_norm"],
        "patient_name_fuzzy": p["patient_name_fuzzy"],
        "PatientBirthDate": p["PatientBirthDate"],
        "PatientSex": p["PatientSex"],
        "created_at": now,
        "updated_at": now,
        "version": 1,
        **ident,
    }
    _insert_ignore(s, Patient, values, ["PatientID", "IssuerOfPatientID"])
    created: Patient = s.execute(select(Patient).filter_by(**ident)).scalar_one()
    return created


def lock_or_create_study(s: Session, parsed: ParsedInstance) -> Study:
    """The study row, locked for this transaction (created from this instance if new)."""
    query = select(Study).where(Study.StudyInstanceUID == parsed.study_uid).with_for_update()
    found: Study | None = s.execute(query).scalar_one_or_none()
    if found is not None:
        return found
    patient = get_or_create_patient(s, parsed)
    now = utcnow()
    values = {
        "StudyInstanceUID": parsed.study_uid,
        "patient_pk": patient.pk,
        "study_json": parsed.study_json,
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "ModalitiesInStudy": "",
        "NumberOfStudyRelatedSeries": 0,
        "NumberOfStudyRelatedInstances": 0,
        **parsed.patient,
        **parsed.study,
    }
    _insert_ignore(s, Study, values, ["StudyInstanceUID"])
    created: Study = s.execute(query.execution_options(populate_existing=True)).scalar_one()
    return created


def lock_or_create_series(s: Session, parsed: ParsedInstance, study: Study) -> Series:
    query = select(Series).where(Series.SeriesInstanceUID == parsed.series_uid)
    found: Series | None = s.execute(query).scalar_one_or_none()
    if found is not None:
        return found
    now = utcnow()
    values = {
        "SeriesInstanceUID": parsed.series_uid,
        "study_pk": study.pk,
        "series_json": parsed.series_json,
        "created_at": now,
        "updated_at": now,
        "NumberOfSeriesRelatedInstances": 0,
        **parsed.series,
    }
    _insert_ignore(s, Series, values, ["SeriesInstanceUID"])
    created: Series = s.execute(query).scalar_one()
    return created


def refresh_counts(s: Session, study_pk: int, series_pks: set[int]) -> None:
    """Recount a study and the given series from their instance rows (the study row is locked)."""
    s.flush()
    now = utcnow()
    for series_pk in series_pks:
        n = s.execute(select(func.count()).where(Instance.series_pk == series_pk)).scalar_one()
        series = s.get(Series, series_pk)
        if series is not None:
            series.NumberOfSeriesRelatedInstances = n
            series.updated_at = now
    n_series = s.execute(select(func.count()).where(Series.study_pk == study_pk)).scalar_one()
    n_inst = s.execute(select(func.count()).where(Instance.study_pk == study_pk)).scalar_one()
    modalities = s.execute(
        select(Series.Modality).where(Series.study_pk == study_pk, Series.Modality != "").distinct()
    ).scalars()
    study = s.get(Study, study_pk)
    if study is not None:
        study.NumberOfStudyRelatedSeries = n_series
        study.NumberOfStudyRelatedInstances = n_inst
        study.ModalitiesInStudy = "\\".join(sorted(modalities))
        study.updated_at = now
        study.version += 1


def ensure_patient(s: Session, patient_id: str, issuer: str, birth_date: str = "") -> Patient:
    """The patient row for an identity, created empty if no study has arrived yet.

    A patient may be enrolled for the portal before their images reach the archive; their FHIR
    Patient id must exist from then on. Studies that arrive later attach to this row.
    """
    ident = {"PatientID": patient_id, "IssuerOfPatientID": issuer}
    found: Patient | None = s.execute(select(Patient).filter_by(**ident)).scalar_one_or_none()
    if found is not None:
        return found
    now = utcnow()
    values = {
        "resource_id": uuid.uuid4().hex,
        "PatientBirthDate": birth_date.replace("-", ""),
        "created_at": now,
        "updated_at": now,
        "version": 1,
        **ident,
    }
    _insert_ignore(s, Patient, values, ["PatientID", "IssuerOfPatientID"])
    created: Patient = s.execute(select(Patient).filter_by(**ident)).scalar_one()
    return created
