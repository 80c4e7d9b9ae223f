"""SMART on the FHIR surface: public CapabilityStatement with the SMART security extension,
401/403 as OperationOutcomes with ``WWW-Authenticate``, per-type scopes, and SMART Imaging
Access (the ImagingStudy search token downloads the study from its Endpoint)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.demo import PatientSpec, SeriesSpec, StudySpec, study_files
from tests.conftest import LiveServer
from tests.integration.test_smart_flow import stow_with
from tests.smart_kit import Patient, SmartKit, bearer

FHIR = {"Accept": "application/fhir+json"}


@pytest.fixture(scope="module")
def kit(live_server: LiveServer) -> Iterator[SmartKit]:
    k = SmartKit(live_server)
    yield k
    k.close()


@pytest.fixture(scope="module")
def study(kit: SmartKit) -> StudySpec:
    site = bearer(kit.backend_token(kit.backend("system/*.cruds"), "system/*.cruds"))
    spec = StudySpec(
        PatientSpec("FH-1", "Fhir^Fay"), [SeriesSpec("CT", 2, 32, 32)], with_pdf_report=True
    )
    assert stow_with(kit.server, list(study_files(spec)), site).status_code == 200
    return spec


@pytest.fixture(scope="module")
def fay(kit: SmartKit, study: StudySpec) -> Patient:
    return kit.patient("FH-1", "1970-01-01")


def test_capability_statement_is_public_and_names_the_smart_endpoints(kit: SmartKit) -> None:
    r = httpx.get(f"{kit.server.fhir}/metadata", headers=FHIR)
    assert r.status_code == 200
    security = r.json()["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    [ext] = security["extension"]
    uris = {e["url"]: e["valueUri"] for e in ext["extension"]}
    assert uris["authorize"] == f"{kit.server.url}/oauth/authorize"
    assert uris["token"] == f"{kit.server.url}/oauth/token"
    assert uris["revoke"] == f"{kit.server.url}/oauth/revoke"
    assert uris["introspect"] == f"{kit.server.url}/oauth/introspect"


def test_no_token_is_401_operation_outcome(kit: SmartKit) -> None:
    r = httpx.get(f"{kit.server.fhir}/ImagingStudy", headers=FHIR)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["resourceType"] == "OperationOutcome"
    bad = httpx.get(f"{kit.server.fhir}/Patient", headers={**FHIR, **bearer("nope")})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]


def test_scopes_per_type(kit: SmartKit, fay: Patient, study: StudySpec) -> None:
    scope = "launch/patient patient/ImagingStudy.rs"
    token = kit.authorize(kit.public_client(scope), fay, scope)
    ok = httpx.get(f"{kit.server.fhir}/ImagingStudy", headers={**FHIR, **bearer(token)})
    assert ok.status_code == 200
    assert [e["resource"]["id"] for e in ok.json()["entry"]] == [study.study_uid]
    denied = httpx.get(
        f"{kit.server.fhir}/Patient/{token['patient']}", headers={**FHIR, **bearer(token)}
    )
    assert denied.status_code == 403
    assert denied.json()["resourceType"] == "OperationOutcome"
    assert 'error="insufficient_scope"' in denied.headers["www-authenticate"]
    create = httpx.post(
        f"{kit.server.fhir}/Binary",
        content=b"%PDF-1.4",
        headers={"Content-Type": "application/pdf", **bearer(token)},
    )
    assert create.status_code == 403


def test_smart_imaging_access(kit: SmartKit, fay: Patient, study: StudySpec) -> None:
    """Argonaut SMART Imaging Access: search ImagingStudy, follow its Endpoint, download with
    the same token."""
    scope = "launch/patient patient/ImagingStudy.rs patient/Endpoint.rs"
    token = kit.authorize(kit.public_client(scope), fay, scope)
    auth = bearer(token)
    bundle = httpx.get(
        f"{kit.server.fhir}/ImagingStudy",
        params={"patient": token["patient"], "_include": "ImagingStudy:endpoint"},
        headers={**FHIR, **auth},
    ).json()
    resources = [e["resource"] for e in bundle["entry"]]
    [imaging] = [r for r in resources if r["resourceType"] == "ImagingStudy"]
    endpoints = [r for r in resources if r["resourceType"] == "Endpoint"]
    assert endpoints and endpoints[0]["connectionType"]["code"] == "dicom-wado-rs"
    assert any("requires-access-token" in e["url"] for e in endpoints[0].get("extension", []))
    uid = imaging["identifier"][0]["value"].removeprefix("urn:oid:")
    wado = httpx.get(
        f"{endpoints[0]['address']}/studies/{uid}",
        headers={
            **auth,
            "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*',
        },
    )
    assert wado.status_code == 200 and wado.content.count(b"DICM") == 3  # 2 images + the report


RADIOLOGY = "http://loinc.org|LP29684-5"


@pytest.mark.parametrize(
    ("category", "sees"), [(RADIOLOGY, True), ("http://loinc.org|LP7839-6", False)]
)
def test_granular_document_scopes(
    kit: SmartKit, fay: Patient, study: StudySpec, category: str, sees: bool
) -> None:
    """``patient/DocumentReference.rs?category=…`` limits searches, reads and includes."""
    scope = (
        f"launch/patient patient/ImagingStudy.rs patient/DocumentReference.rs?category={category}"
    )
    token = kit.authorize(kit.public_client(scope), fay, scope)
    auth = {**FHIR, **bearer(token)}
    site = bearer(kit.backend_token(kit.backend("system/*.rs"), "system/*.rs"))
    every = httpx.get(
        f"{kit.server.fhir}/DocumentReference",
        params={"patient": token["patient"]},
        headers={**FHIR, **site},
    ).json()
    [doc_id] = [e["resource"]["id"] for e in every["entry"]]
    found = httpx.get(f"{kit.server.fhir}/DocumentReference", headers=auth).json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == ([doc_id] if sees else [])
    read = httpx.get(f"{kit.server.fhir}/DocumentReference/{doc_id}", headers=auth)
    assert read.status_code == (200 if sees else 404)
    included = httpx.get(
        f"{kit.server.fhir}/ImagingStudy",
        params={"_revinclude": "DocumentReference:related"},
        headers=auth,
    ).json()
    types = sorted(e["resource"]["resourceType"] for e in included["entry"])
    assert types == (["DocumentReference", "ImagingStudy"] if sees else ["ImagingStudy"])


def test_includes_need_a_scope_for_their_type(
    kit: SmartKit, fay: Patient, study: StudySpec
) -> None:
    scope = "launch/patient patient/ImagingStudy.rs"
    token = kit.authorize(kit.public_client(scope), fay, scope)
    bundle = httpx.get(
        f"{kit.server.fhir}/ImagingStudy",
        params={"_include": "ImagingStudy:patient"},
        headers={**FHIR, **bearer(token)},
    ).json()
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {"ImagingStudy"}
