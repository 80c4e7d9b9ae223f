"""Delete a study, series or instance: index rows first, blobs after the commit.

Removing rows before files keeps the rule that an index row never points to a missing blob;
a crash between the two leaves orphan blobs for the sweep. Documents derived from deleted
instances go with them, and deleted studies, patients and documents leave tombstones so FHIR
can answer 410 Gone (``tombstones``).
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.archive import documents, tombstones
from app.archive.blobs import BlobStore
from app.archive.compartment import Compartment
from app.archive.index import refresh_counts
from app.archive.models import Instance, Patient, Series, Study
from app.archive.retrieve import Scope
from app.archive.tombstones import TombstoneKindValues
from app.errors import NotFound

logger = logging.getLogger(__name__)


def delete_scope(engine: Engine, store: BlobStore, scope: Scope, compartment: Compartment) -> int:
    """Delete everything in ``scope`` (within ``compartment``); returns instances removed."""
    with Session(engine) as s:
        query = select(Study).where(Study.StudyInstanceUID == scope.study)
        study = s.execute(compartment.apply(query).with_for_update()).scalar_one_or_none()
        if study is None or study.pk is None:
            raise NotFound("no study with that UID")
        query = select(
            Instance.pk, Instance.blob_key, Instance.series_pk, Instance.SOPInstanceUID
        ).where(Instance.study_pk == study.pk)
        if scope.series:
            query = query.join(Series, Instance.series_pk == Series.pk).where(
                Series.SeriesInstanceUID == scope.series
            )
        if scope.instance:
            query = query.where(Instance.SOPInstanceUID == scope.instance)
        rows = s.execute(query).all()
        if not rows:
            raise NotFound(f"no {scope.level} with that UID")
        keys = [r.blob_key for r in rows]
        series_pks = {r.series_pk for r in rows}
        documents.remove_derived(s, [r.SOPInstanceUID for r in rows])
        s.execute(delete(Instance).where(Instance.pk.in_([r.pk for r in rows])))
        _drop_empty(s, study, series_pks)
        s.commit()
    for key in keys:
        try:
            store.delete(key)
        except OSError as exc:  # left for the sweep
            logger.warning("could not delete a blob (left for the sweep): %s", exc.strerror)
    return len(keys)


def _drop_empty(s: Session, study: Study, series_pks: set[int]) -> None:
    assert study.pk is not None
    for series_pk in series_pks:
        left = s.execute(select(func.count()).where(Instance.series_pk == series_pk)).scalar_one()
        if left == 0:
            s.execute(delete(Series).where(Series.pk == series_pk))
    remaining = s.execute(select(func.count()).where(Instance.study_pk == study.pk)).scalar_one()
    if remaining:
        refresh_counts(s, study.pk, series_pks - _gone(s, series_pks))
        return
    patient_pk = study.patient_pk
    tombstones.record(s, TombstoneKindValues.STUDY, study.StudyInstanceUID, study.version + 1)
    s.execute(delete(Series).where(Series.study_pk == study.pk))
    s.execute(delete(Study).where(Study.pk == study.pk))
    others = s.execute(select(func.count()).where(Study.patient_pk == patient_pk)).scalar_one()
    if others == 0 and not documents.patient_has_documents(s, patient_pk):
        patient = s.get(Patient, patient_pk)
        if patient is not None:
            tombstones.record(
                s, TombstoneKindValues.PATIENT, patient.resource_id, patient.version + 1
            )
        s.execute(delete(Patient).where(Patient.pk == patient_pk))


def _gone(s: Session, series_pks: set[int]) -> set[int]:
    present = set(s.execute(select(Series.pk).where(Series.pk.in_(series_pks))).scalars())
    return series_pks - present
