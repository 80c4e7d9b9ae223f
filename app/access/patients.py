"""The FHIR Patient id for a patient identity, for the authorization server's launch context.

Given to ``smart`` as its ``PatientResolver``, so the authorization server never touches the
archive itself.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.archive.index import ensure_patient


def resolver(engine: Engine) -> Callable[[str, str, str], str]:
    def fhir_patient_id(patient_id: str, issuer: str, birth_date: str) -> str:
        with Session(engine) as s:
            row = ensure_patient(s, patient_id, issuer, birth_date)
            s.commit()
            return row.resource_id

    return fhir_patient_id
