"""The compartment filter as SQL: every patient identity is Patient ID *and* issuer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from app.archive.compartment import Compartment
from app.archive.models import Study


def _sql(c: Compartment) -> str:
    query = c.apply(select(Study.StudyInstanceUID))
    return str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))


def test_everyone_adds_no_condition() -> None:
    assert "WHERE" not in _sql(Compartment.everyone())


def test_empty_compartment_matches_nothing() -> None:
    sql = _sql(Compartment.of([]))
    assert "WHERE 0 = 1" in sql or "WHERE false" in sql.lower()


def test_identity_is_id_and_issuer() -> None:
    sql = _sql(Compartment.of([("P1", "HOSP")]))
    assert "study.\"PatientID\" = 'P1'" in sql and "study.\"IssuerOfPatientID\" = 'HOSP'" in sql
    c = Compartment.of([("P1", "HOSP")])
    assert c.allows("P1", "HOSP") and not c.allows("P1", "") and not c.allows("P2", "HOSP")
