"""ImagingStudy: a live view of the study, series and instance index rows (no copy to drift).

Shaped to SMART Imaging Access: every study carries its Study Instance UID as identifier
(system ``urn:dicom:uid``, value ``urn:oid:<uid>``) and a WADO-RS Endpoint; the accession
number is an identifier of type ACSN (v2-0203). The resource id is the Study Instance UID
itself (a UID is a valid FHIR id: digits and dots, at most 64), so ids are stable and an app can
go from a DICOM study to its FHIR resource without searching. ``started`` is the Study Date
only: DICOM times carry no zone unless Timezone Offset From UTC is set, and FHIR requires one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, false, or_, select, true
from sqlmodel import Session

from app.archive import tombstones
from app.archive.models import Instance, Patient, Series, Study
from app.archive.tombstones import TombstoneKindValues
from app.fhir import endpoint
from app.fhir.conditions import day_column, id_column, instant_column
from app.fhir.patient import chained_identifier, patient_reference
from app.fhir.resource import CANONICAL, Context, Loaded, SqlResource, fhir_date, meta
from app.fhir.search import ParamType, SearchParam, Token

PROFILE = f"{CANONICAL}/imageshare-imagingstudy"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
DICOM_UID = "urn:dicom:uid"
URI = "urn:ietf:rfc:3986"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
STATUS_SYSTEM = "http://hl7.org/fhir/imagingstudy-status"


@dataclass(frozen=True)
class InstanceRow:
    uid: str
    sop_class: str
    number: int | None


@dataclass(frozen=True)
class SeriesRow:
    uid: str
    number: int | None
    modality: str
    description: str
    body_part: str
    date: str
    count: int
    instances: list[InstanceRow] = field(default_factory=list)


@dataclass(frozen=True)
class StudyRow:
    uid: str
    patient_id: str
    date: str
    accession: str
    description: str
    referrer: str
    modalities: str
    n_series: int
    n_instances: int
    version: int
    updated_at: datetime
    series: list[SeriesRow] = field(default_factory=list)


def _referrer_display(pn: str) -> str:
    parts = pn.split("=")[0].split("^")
    family = parts[0].strip()
    given = " ".join(p.strip() for p in parts[1:3] if p.strip())
    return " ".join(p for p in (given, family) if p)


def imaging_study(row: StudyRow, ctx: Context) -> dict[str, Any]:
    """ImagingStudy resource for one study and its series/instances (pure)."""
    identifiers: list[dict[str, Any]] = [{"system": DICOM_UID, "value": f"urn:oid:{row.uid}"}]
    if row.accession:
        identifiers.append(
            {"type": {"coding": [{"system": V2_0203, "code": "ACSN"}]}, "value": row.accession}
        )
    out: dict[str, Any] = {
        "resourceType": "ImagingStudy",
        "id": row.uid,
        "meta": meta(row.version, row.updated_at, PROFILE),
        "identifier": identifiers,
        "status": "available",
        "subject": {"reference": f"Patient/{row.patient_id}"},
        "endpoint": [{"reference": f"Endpoint/{endpoint.ENDPOINT_ID}"}],
        "numberOfSeries": row.n_series,
        "numberOfInstances": row.n_instances,
    }
    # Modality is Type 1 in every series; "OT" (other) stands in for a missing one.
    modalities = [m for m in row.modalities.split("\\") if m]
    modalities = modalities or sorted({s.modality or "OT" for s in row.series}) or ["OT"]
    out["modality"] = [{"system": DCM, "code": m} for m in modalities]
    started = fhir_date(row.date)
    if started:
        out["started"] = started
    if row.description:
        out["description"] = row.description
    referrer = _referrer_display(row.referrer)
    if referrer:
        out["referrer"] = {"display": referrer}
    if row.series:
        out["series"] = [_series(s) for s in row.series]
    return out


def _series(row: SeriesRow) -> dict[str, Any]:
    out: dict[str, Any] = {"uid": row.uid}
    if row.number is not None:
        out["number"] = row.number
    out["modality"] = {"system": DCM, "code": row.modality or "OT"}
    if row.description:
        out["description"] = row.description
    out["numberOfInstances"] = row.count
    if row.body_part:
        # Body Part Examined is a DICOM defined term, not a code in a FHIR code system.
        out["bodySite"] = {"display": row.body_part}
    started = fhir_date(row.date)
    if started:
        out["started"] = started
    if row.instances:
        out["instance"] = [_instance(i) for i in row.instances]
    return out


def _instance(row: InstanceRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "uid": row.uid,
        "sopClass": {"system": URI, "code": f"urn:oid:{row.sop_class}"},
    }
    if row.number is not None:
        out["number"] = row.number
    return out


def _sort_key(number: int | None, pk: int) -> tuple[bool, int, int]:
    return (number is None, number or 0, pk)


_STUDY_COLUMNS = (
    Study.pk,
    Study.StudyInstanceUID,
    Study.patient_pk,
    Patient.resource_id,
    Study.StudyDate,
    Study.AccessionNumber,
    Study.StudyDescription,
    Study.ReferringPhysicianName,
    Study.ModalitiesInStudy,
    Study.NumberOfStudyRelatedSeries,
    Study.NumberOfStudyRelatedInstances,
    Study.version,
    Study.updated_at,
)
_SERIES_COLUMNS = (
    Series.pk,
    Series.study_pk,
    Series.SeriesInstanceUID,
    Series.SeriesNumber,
    Series.Modality,
    Series.SeriesDescription,
    Series.BodyPartExamined,
    Series.SeriesDate,
    Series.NumberOfSeriesRelatedInstances,
)
_INSTANCE_COLUMNS = (
    Instance.pk,
    Instance.series_pk,
    Instance.SOPInstanceUID,
    Instance.SOPClassUID,
    Instance.InstanceNumber,
)


def _series_by_study(s: Session, pks: list[int]) -> dict[int, list[SeriesRow]]:
    """Series rows with their instances, grouped by study, in number order (two queries)."""
    series = s.execute(select(*_SERIES_COLUMNS).where(Series.study_pk.in_(pks))).all()
    instances = s.execute(select(*_INSTANCE_COLUMNS).where(Instance.study_pk.in_(pks))).all()
    by_series: dict[int, list[Any]] = {}
    for i in instances:
        by_series.setdefault(i.series_pk, []).append(i)
    out: dict[int, list[SeriesRow]] = {}
    for se in sorted(series, key=lambda r: _sort_key(r.SeriesNumber, r.pk)):
        inst = sorted(by_series.get(se.pk, []), key=lambda r: _sort_key(r.InstanceNumber, r.pk))
        out.setdefault(se.study_pk, []).append(
            SeriesRow(
                se.SeriesInstanceUID,
                se.SeriesNumber,
                se.Modality,
                se.SeriesDescription,
                se.BodyPartExamined,
                se.SeriesDate,
                se.NumberOfSeriesRelatedInstances,
                [InstanceRow(i.SOPInstanceUID, i.SOPClassUID, i.InstanceNumber) for i in inst],
            )
        )
    return out


def load_studies(s: Session, pks: list[int], ctx: Context) -> list[Loaded]:
    """Load whole studies (series and instances included) in three queries, in ``pks`` order."""
    if not pks:
        return []
    query = select(*_STUDY_COLUMNS).join(Patient, Study.patient_pk == Patient.pk)
    found = {st.pk: st for st in s.execute(query.where(Study.pk.in_(pks))).all()}
    series = _series_by_study(s, pks)
    out = []
    for pk in pks:
        st = found.get(pk)
        if st is None:
            continue
        row = StudyRow(
            st.StudyInstanceUID,
            st.resource_id,
            st.StudyDate,
            st.AccessionNumber,
            st.StudyDescription,
            st.ReferringPhysicianName,
            st.ModalitiesInStudy,
            st.NumberOfStudyRelatedSeries,
            st.NumberOfStudyRelatedInstances,
            st.version,
            st.updated_at,
            series.get(pk, []),
        )
        resource = imaging_study(row, ctx)
        out.append(Loaded(resource, st.version, st.updated_at, row.uid, pk, st.patient_pk))
    return out


def _uid_of(code: str) -> str:
    return code[len("urn:oid:") :] if code.startswith("urn:oid:") else code


def _identifier(values: Sequence[Token], _modifier: str) -> Any:
    """Study Instance UID (``urn:dicom:uid|urn:oid:…``, or any system) or accession number."""
    conds: list[Any] = []
    for t in values:
        if t.code is None:
            conds.append(true() if t.system == DICOM_UID else false())
        elif t.system == DICOM_UID:
            conds.append(Study.StudyInstanceUID == _uid_of(t.code))
        elif t.system == "":
            conds.append(Study.AccessionNumber == t.code)
        elif t.system is None:
            conds.append(
                or_(Study.StudyInstanceUID == _uid_of(t.code), Study.AccessionNumber == t.code)
            )
        else:
            conds.append(false())
    return or_(*conds)


def _modality(values: Sequence[Token], _modifier: str) -> Any:
    codes = [t.code for t in values if t.code and t.system in (None, DCM)]
    if not codes:
        return false()
    return exists().where(and_(Series.study_pk == Study.pk, Series.Modality.in_(codes)))


def _series_uid(values: Sequence[Token], _modifier: str) -> Any:
    uids = [t.code for t in values if t.code and t.system in (None, "", DICOM_UID)]
    if not uids:
        return false()
    return exists().where(and_(Series.study_pk == Study.pk, Series.SeriesInstanceUID.in_(uids)))


def _status(values: Sequence[Token], _modifier: str) -> Any:
    ok = any(t.code == "available" and t.system in (None, STATUS_SYSTEM) for t in values)
    return true() if ok else false()


def _endpoint(values: Sequence[Any], _modifier: str) -> Any:
    ok = any(
        v is not None and v.type in (None, "Endpoint") and v.id == endpoint.ENDPOINT_ID
        for v in values
    )
    return true() if ok else false()


_PATIENT = frozenset({"identifier"})
PARAMS = {
    p.name: p
    for p in (
        SearchParam(
            "_id",
            ParamType.TOKEN,
            "Logical id (the Study Instance UID)",
            id_column(Study.StudyInstanceUID),
        ),
        SearchParam(
            "_lastUpdated",
            ParamType.DATE,
            "When the study's index rows changed",
            instant_column(Study.updated_at),
        ),
        SearchParam(
            "patient",
            ParamType.REFERENCE,
            "The study's patient (also :identifier)",
            patient_reference(Study.patient_pk),
            _PATIENT,
            "Patient",
        ),
        SearchParam(
            "subject",
            ParamType.REFERENCE,
            "Same as patient",
            patient_reference(Study.patient_pk),
            _PATIENT,
            "Patient",
        ),
        SearchParam(
            "patient.identifier",
            ParamType.TOKEN,
            "Chained: the patient's identifier",
            chained_identifier(Study.patient_pk),
        ),
        SearchParam(
            "identifier",
            ParamType.TOKEN,
            "urn:dicom:uid|urn:oid:<Study Instance UID>, or the accession number",
            _identifier,
        ),
        SearchParam(
            "started", ParamType.DATE, "Study Date (day precision)", day_column(Study.StudyDate)
        ),
        SearchParam("modality", ParamType.TOKEN, "Modality of any series (DCM codes)", _modality),
        SearchParam("series", ParamType.TOKEN, "Series Instance UID of any series", _series_uid),
        SearchParam("status", ParamType.TOKEN, "Always available for stored studies", _status),
        SearchParam(
            "endpoint", ParamType.REFERENCE, "The DICOMweb Endpoint", _endpoint, target="Endpoint"
        ),
    )
}

RESOURCE = SqlResource(
    name="ImagingStudy",
    profile=PROFILE,
    params=PARAMS,
    base=lambda: select(Study.pk),
    pk_column=Study.pk,
    id_column=Study.StudyInstanceUID,
    patient_column=Study.patient_pk,
    order=lambda: (Study.StudyDate.desc(), Study.StudyTime.desc(), Study.pk.desc()),
    load=load_studies,
    gone=tombstones.deleted_version(TombstoneKindValues.STUDY),
    mandatory=frozenset({"status", "subject"}),
)
