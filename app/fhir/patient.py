"""Patient: one per DICOM identity (Patient ID + Issuer of Patient ID) across its studies.

Built from the DICOM Patient Module (PS3.3 C.7.1.1): the identifier is Patient ID (type MR)
with the issuer as system when it is an OID (``urn:oid:``) or already a URI, otherwise as the
assigner's name; the name is the Alphabetic group of the PN value split into family, given,
prefix and suffix (PS3.5 6.2.1); sex M/F/O becomes male/female/other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, or_, select
from sqlmodel import Session

from app.archive import tombstones
from app.archive.models import Patient
from app.archive.tombstones import TombstoneKindValues
from app.fhir.conditions import day_column, id_column, instant_column, name_words
from app.fhir.resource import CANONICAL, Context, Loaded, SqlResource, fhir_date, meta
from app.fhir.search import ParamType, SearchParam, Token

PROFILE = f"{CANONICAL}/imageshare-patient"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
GENDER_SYSTEM = "http://hl7.org/fhir/administrative-gender"
_OID_RE = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_SEX = {"M": "male", "F": "female", "O": "other"}


@dataclass(frozen=True)
class PatientRow:
    pk: int
    resource_id: str
    patient_id: str
    issuer: str
    name: str
    birth_date: str
    sex: str
    version: int
    updated_at: datetime


def identifier_system(issuer: str) -> str | None:
    """The FHIR identifier system for an Issuer of Patient ID, if it can be a URI."""
    if not issuer:
        return None
    if _OID_RE.match(issuer):
        return f"urn:oid:{issuer}"
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", issuer):
        return issuer
    return None


def human_name(pn: str) -> dict[str, Any] | None:
    """FHIR HumanName from the Alphabetic component group of a DICOM PN value."""
    alphabetic = pn.split("=")[0]
    parts = [p.strip() for p in alphabetic.split("^")] + [""] * 5
    family, given, middle, prefix, suffix = parts[:5]
    name: dict[str, Any] = {}
    given_names = [g for g in (given, middle) if g]
    text = " ".join(p for p in (prefix, *given_names, family, suffix) if p)
    if not text:
        return None
    name["text"] = text
    if family:
        name["family"] = family
    if given_names:
        name["given"] = given_names
    if prefix:
        name["prefix"] = [prefix]
    if suffix:
        name["suffix"] = [suffix]
    return name


def patient_resource(row: PatientRow) -> dict[str, Any]:
    """Patient resource for one index row (pure)."""
    identifier: dict[str, Any] = {
        "use": "usual",
        "type": {"coding": [{"system": V2_0203, "code": "MR"}]},
        "value": row.patient_id or "",
    }
    system = identifier_system(row.issuer)
    if system:
        identifier["system"] = system
    elif row.issuer:
        identifier["assigner"] = {"display": row.issuer}
    out: dict[str, Any] = {
        "resourceType": "Patient",
        "id": row.resource_id,
        "meta": meta(row.version, row.updated_at, PROFILE),
    }
    if row.patient_id:
        out["identifier"] = [identifier]
    name = human_name(row.name)
    if name:
        out["name"] = [name]
    if row.sex.upper() in _SEX:
        out["gender"] = _SEX[row.sex.upper()]
    birth = fhir_date(row.birth_date)
    if birth:
        out["birthDate"] = birth
    return out


def identifier_condition(values: Sequence[Token]) -> Any:
    """Patient rows whose Patient ID (and issuer, when a system is given) match a token."""
    conds = []
    for t in values:
        if t.code is None:
            conds.append(false())
            continue
        cond: Any = Patient.PatientID == t.code
        if t.system == "":
            cond = and_(cond, Patient.IssuerOfPatientID == "")
        elif t.system is not None:
            issuers = [t.system]
            if t.system.startswith("urn:oid:"):
                issuers.append(t.system[len("urn:oid:") :])
            cond = and_(cond, Patient.IssuerOfPatientID.in_(issuers))
        conds.append(cond)
    return or_(*conds) if conds else false()


def patient_reference(patient_column: Any) -> Any:
    """Builder for ``patient``/``subject``: a reference, or ``:identifier`` on the patient."""

    def build(values: Sequence[Any], modifier: str) -> Any:
        if modifier == "identifier":
            inner = select(Patient.pk).where(identifier_condition(values))
            return patient_column.in_(inner)
        ids = [v.id for v in values if v is not None and v.type in (None, "Patient")]
        if not ids:
            return false()
        return patient_column.in_(select(Patient.pk).where(Patient.resource_id.in_(ids)))

    return build


def chained_identifier(patient_column: Any) -> Any:
    """Builder for the chain ``patient.identifier``."""

    def build(values: Sequence[Token], _modifier: str) -> Any:
        return patient_column.in_(select(Patient.pk).where(identifier_condition(values)))

    return build


def _gender(values: Sequence[Token], _modifier: str) -> Any:
    reverse = {v: k for k, v in _SEX.items()}
    codes = [
        reverse[t.code] for t in values if t.system in (None, GENDER_SYSTEM) and t.code in reverse
    ]
    return Patient.PatientSex.in_(codes) if codes else false()


def _load(s: Session, pks: list[int], _ctx: Context) -> list[Loaded]:
    rows = s.execute(select(Patient).where(Patient.pk.in_(pks))).scalars()
    by_pk = {r.pk: r for r in rows}
    out = []
    for pk in pks:
        r = by_pk.get(pk)
        if r is None or r.pk is None:
            continue
        row = PatientRow(
            r.pk,
            r.resource_id,
            r.PatientID,
            r.IssuerOfPatientID,
            r.PatientName,
            r.PatientBirthDate,
            r.PatientSex,
            r.version,
            r.updated_at,
        )
        out.append(
            Loaded(patient_resource(row), r.version, r.updated_at, r.resource_id, r.pk, r.pk)
        )
    return out


PARAMS = {
    p.name: p
    for p in (
        SearchParam("_id", ParamType.TOKEN, "Logical id", id_column(Patient.resource_id)),
        SearchParam(
            "_lastUpdated",
            ParamType.DATE,
            "When the index row changed",
            instant_column(Patient.updated_at),
        ),
        SearchParam(
            "identifier",
            ParamType.TOKEN,
            "Patient ID, with the issuer as system",
            lambda values, _m: identifier_condition(values),
        ),
        SearchParam(
            "name",
            ParamType.STRING,
            "Start of any name part, case- and accent-insensitive (:contains anywhere)",
            name_words(Patient.patient_name_fuzzy),
            frozenset({"contains"}),
        ),
        SearchParam(
            "birthdate", ParamType.DATE, "Date of birth", day_column(Patient.PatientBirthDate)
        ),
        SearchParam("gender", ParamType.TOKEN, "male | female | other", _gender),
    )
}

RESOURCE = SqlResource(
    name="Patient",
    profile=PROFILE,
    params=PARAMS,
    base=lambda: select(Patient.pk),
    pk_column=Patient.pk,
    id_column=Patient.resource_id,
    patient_column=Patient.pk,
    order=lambda: (Patient.pk,),
    load=_load,
    gone=tombstones.deleted_version(TombstoneKindValues.PATIENT),
)
