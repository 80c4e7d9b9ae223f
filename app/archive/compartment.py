"""Which patients' studies a caller may touch: the one filter every archive query applies.

A patient compartment (FHIR "Patient compartment") is a set of patient identities, each
Patient ID + Issuer of Patient ID. Every query function in ``query``, ``retrieve`` and
``deletion`` takes a ``Compartment`` as a required argument and calls ``apply`` on its SQL, so
no read can skip it. A study outside the compartment is simply not found: the caller gets the
same ``NotFound`` as for a UID that does not exist, and existence does not leak.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, and_, false, or_, select
from sqlmodel import Session

from app.archive.models import Patient, Study

Q = TypeVar("Q", bound=Select[Any])


@dataclass(frozen=True)
class Compartment:
    #: (PatientID, IssuerOfPatientID) pairs; ``None`` means every patient.
    patients: frozenset[tuple[str, str]] | None = None

    @classmethod
    def everyone(cls) -> Compartment:
        """No patient restriction: site systems, administrators, or the auth-off demo."""
        return cls(None)

    @classmethod
    def of(cls, identities: Iterable[tuple[str, str]]) -> Compartment:
        return cls(frozenset(identities))

    @property
    def unrestricted(self) -> bool:
        return self.patients is None

    def allows(self, patient_id: str, issuer: str) -> bool:
        return self.patients is None or (patient_id, issuer) in self.patients

    def apply(self, query: Q) -> Q:
        """Restrict a query that selects from or joins ``Study`` to the compartment."""
        if self.patients is None:
            return query
        if not self.patients:
            return query.where(false())
        return query.where(
            or_(
                *(
                    and_(Study.PatientID == pid, Study.IssuerOfPatientID == issuer)
                    for pid, issuer in sorted(self.patients)
                )
            )
        )


def patient_keys(s: Session, compartment: Compartment) -> frozenset[int] | None:
    """The patient rows of a compartment (``None`` for everyone), for queries keyed by
    ``patient_pk`` such as the FHIR views."""
    if compartment.patients is None:
        return None
    if not compartment.patients:
        return frozenset()
    query = select(Patient.pk).where(
        or_(
            *(
                and_(Patient.PatientID == pid, Patient.IssuerOfPatientID == issuer)
                for pid, issuer in sorted(compartment.patients)
            )
        )
    )
    return frozenset(pk for pk in s.execute(query).scalars() if pk is not None)
