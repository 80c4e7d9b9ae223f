"""SMART scope grammar (v1 and v2), coverage, narrowing, and the plain-words consent text."""

from __future__ import annotations

import pytest

from app.access.principal import Principal
from smart import consent, scopes


@pytest.mark.parametrize(
    ("scope", "context", "resource", "perms", "version"),
    [
        ("patient/ImagingStudy.read", "patient", "ImagingStudy", "rs", 1),
        ("patient/*.read", "patient", "*", "rs", 1),
        ("user/Observation.write", "user", "Observation", "cud", 1),
        ("system/*.*", "system", "*", "cruds", 1),
        ("patient/ImagingStudy.rs", "patient", "ImagingStudy", "rs", 2),
        ("patient/ImagingStudy.cruds", "patient", "ImagingStudy", "cruds", 2),
        ("system/Patient.r", "system", "Patient", "r", 2),
    ],
)
def test_clinical_scopes(scope: str, context: str, resource: str, perms: str, version: int) -> None:
    parsed = scopes.validate(scope)
    assert parsed is not None
    assert (parsed.context, parsed.resource, parsed.perms, parsed.version) == (
        context,
        resource,
        frozenset(perms),
        version,
    )


@pytest.mark.parametrize(
    "scope",
    [
        "patient/ImagingStudy.sr",  # v2 order is c r u d s
        "patient/ImagingStudy.rr",
        "patient/ImagingStudy.x",
        "patient/imagingstudy.rs",
        "clinic/ImagingStudy.rs",
        "patient/ImagingStudy.read?category=x",  # filters are v2 only
        "patient/DocumentReference.rs?",
        "launch/",
        "Launch/patient",
        "openidx",
    ],
)
def test_invalid_scopes(scope: str) -> None:
    with pytest.raises(scopes.InvalidScope):
        scopes.validate(scope)


@pytest.mark.parametrize(
    "scope", ["openid", "fhirUser", "offline_access", "online_access", "launch", "launch/patient"]
)
def test_words(scope: str) -> None:
    assert scopes.validate(scope) is None


def test_granular_filter() -> None:
    parsed = scopes.validate(
        "patient/DocumentReference.rs?category=http://loinc.org|LP29684-5&status=current"
    )
    assert parsed is not None and parsed.version == 2
    assert dict(parsed.filters) == {"category": "http://loinc.org|LP29684-5", "status": "current"}


def test_covers_and_narrow() -> None:
    allowed = ["patient/*.rs", "launch/patient", "openid"]
    assert scopes.covered("patient/ImagingStudy.rs", allowed)
    assert scopes.covered("patient/ImagingStudy.read", allowed)
    assert scopes.covered("patient/ImagingStudy.r", allowed)
    assert not scopes.covered("patient/ImagingStudy.cruds", allowed)
    assert not scopes.covered("system/ImagingStudy.rs", allowed)
    assert not scopes.covered("fhirUser", allowed)
    assert scopes.covered(
        "patient/DocumentReference.rs?category=x", ["patient/DocumentReference.rs"]
    )
    assert not scopes.covered(
        "patient/DocumentReference.rs", ["patient/DocumentReference.rs?category=x"]
    )
    asked = ["openid", "fhirUser", "patient/ImagingStudy.rs", "patient/Patient.c", "launch/patient"]
    assert scopes.narrow(asked, allowed) == ["openid", "patient/ImagingStudy.rs", "launch/patient"]


def test_permits_only_in_the_callers_context() -> None:
    granted = scopes.clinical(["patient/ImagingStudy.rs", "system/*.c", "openid"])
    assert scopes.permits(granted, "ImagingStudy", "r", ["patient"])
    assert scopes.permits(granted, "ImagingStudy", "s", ["patient"])
    assert not scopes.permits(granted, "ImagingStudy", "c", ["patient"])
    assert scopes.permits(granted, "ImagingStudy", "c", ["system"])
    assert not scopes.permits(granted, "DocumentReference", "r", ["patient"])


def test_filters_are_additive() -> None:
    one = scopes.clinical(["patient/DocumentReference.rs?category=a"])
    assert scopes.filters_for(one, "DocumentReference", "r", ["patient"]) == [{"category": "a"}]
    both = scopes.clinical(["patient/DocumentReference.rs?category=a", "patient/*.rs"])
    assert scopes.filters_for(both, "DocumentReference", "r", ["patient"]) is None
    assert scopes.filters_for(one, "ImagingStudy", "r", ["patient"]) == []


def test_principal_patient_vs_system() -> None:
    patient = Principal.create(
        "patient", "app", ("patient/ImagingStudy.read",), patients=frozenset({("P1", "")})
    )
    assert patient.can("ImagingStudy", "s") and not patient.can("ImagingStudy", "c")
    assert patient.compartment.patients == frozenset({("P1", "")})
    system = Principal.create("system", "site", ("patient/ImagingStudy.rs",))
    assert not system.can("ImagingStudy", "r")  # patient/ scopes need a patient in context
    assert system.compartment.unrestricted
    nobody = Principal.create("patient", "app", ("patient/*.rs",))
    assert nobody.compartment.patients == frozenset()


def test_consent_words() -> None:
    lines = {
        line.scope: line.text
        for line in consent.lines(
            "patient/ImagingStudy.rs patient/*.read offline_access launch/patient"
        )
    }
    assert (
        lines["patient/ImagingStudy.rs"] == "See and search your imaging studies and their images"
    )
    assert "added in the future" in lines["patient/*.read"]
    assert "until you revoke it" in lines["offline_access"]
    assert lines["launch/patient"].startswith("Know which patient")
