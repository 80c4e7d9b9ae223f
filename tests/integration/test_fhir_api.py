"""The FHIR surface as a whole: CapabilityStatement backed by real routes, media types,
errors as OperationOutcome, CORS, strict handling and the _include cap."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient

from tests import factory
from tests.conftest import LiveServer
from tests.fhir_helpers import check_resource, entries, fhir_get, ok

#: Surface behaviour, not access control (that is test_isolation.py and test_smart_*.py,
#: with authorization on).
SERVER_SETTINGS = {"auth": "off"}

STRICT = {"Prefer": "handling=strict"}


@pytest.fixture(scope="module")
def server(live_server: LiveServer) -> Iterator[LiveServer]:
    client = DICOMwebClient(live_server.dicomweb)
    for spec in factory.corpus():
        client.store_instances([pydicom.dcmread(io.BytesIO(b)) for b in factory.files(spec)])
    yield live_server


@pytest.fixture(scope="module")
def capability(server: LiveServer) -> dict[str, Any]:
    return ok(f"{server.fhir}/metadata")


def test_capability_statement(capability: dict[str, Any]) -> None:
    assert capability["fhirVersion"] == "4.0.1"
    assert capability["kind"] == "instance"
    assert "application/fhir+json" in capability["format"]
    types = {r["type"] for r in capability["rest"][0]["resource"]}
    assert types == {"ImagingStudy", "Patient", "DocumentReference", "Endpoint", "Binary"}
    study = next(r for r in capability["rest"][0]["resource"] if r["type"] == "ImagingStudy")
    names = {p["name"] for p in study["searchParam"]}
    assert {
        "patient",
        "identifier",
        "started",
        "modality",
        "status",
        "endpoint",
        "_id",
        "_lastUpdated",
    } <= names
    assert "ImagingStudy:patient" in study["searchInclude"]
    assert study["searchRevInclude"] == ["DocumentReference:related"]


def test_every_claimed_search_parameter_is_accepted_under_strict(
    server: LiveServer, capability: dict[str, Any]
) -> None:
    samples = {"token": "x", "reference": "x", "date": "2024", "string": "x"}
    for resource in capability["rest"][0]["resource"]:
        codes = {i["code"] for i in resource["interaction"]}
        base = f"{server.fhir}/{resource['type']}"
        if "search-type" not in codes:
            r = httpx.get(base)
            assert r.status_code in (404, 405), resource["type"]
            continue
        for param in resource["searchParam"]:
            r = fhir_get(base, {param["name"]: samples[param["type"]]}, headers=STRICT)
            assert r.status_code == 200, (resource["type"], param["name"], r.text)
        for inc in resource.get("searchInclude", []):
            assert fhir_get(base, {"_include": inc}, headers=STRICT).status_code == 200
        for inc in resource.get("searchRevInclude", []):
            assert fhir_get(base, {"_revinclude": inc}, headers=STRICT).status_code == 200


def test_every_claimed_read_interaction_is_routed(
    server: LiveServer, capability: dict[str, Any]
) -> None:
    for resource in capability["rest"][0]["resource"]:
        codes = {i["code"] for i in resource["interaction"]}
        assert {"read", "vread"} <= codes
        r = fhir_get(
            f"{server.fhir}/{resource['type']}/unknown-id",
            headers={"Accept": "application/fhir+json"},
        )
        assert r.status_code == 404 and r.json()["issue"][0]["code"] == "not-found"
    endpoint = ok(f"{server.fhir}/Endpoint/dicomweb")
    assert (
        ok(f"{server.fhir}/Endpoint/dicomweb/_history/{endpoint['meta']['versionId']}") == endpoint
    )


def test_unclaimed_interactions_are_refused(server: LiveServer) -> None:
    for method, path in (
        ("DELETE", "/ImagingStudy/1.2.3"),
        ("PUT", "/Patient/x"),
        ("POST", "/ImagingStudy"),
        ("GET", "/Observation"),
        ("GET", "/Binary"),
    ):
        r = httpx.request(method, f"{server.fhir}{path}", json={})
        assert r.status_code in (404, 405), (method, path)
        assert check_resource(r.json())["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "application/fhir+json",
        "application/json",
        "*/*",
        "application/fhir+json; fhirVersion=4.0",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ],
)
def test_accepted_media_types(server: LiveServer, accept: str | None) -> None:
    headers = {"Accept": accept} if accept else {}
    r = httpx.get(f"{server.fhir}/metadata", headers=headers)
    assert r.status_code == 200
    expected = "application/json" if accept == "application/json" else "application/fhir+json"
    assert r.headers["content-type"].split(";")[0] == expected


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        ("application/fhir+xml", None),
        ("application/fhir+json; fhirVersion=5.0", None),
        (None, "xml"),
        (None, "text/turtle"),
    ],
)
def test_unsupported_formats_are_406(
    server: LiveServer, accept: str | None, fmt: str | None
) -> None:
    params = {"_format": fmt} if fmt else {}
    headers = {"Accept": accept} if accept else {}
    for path in ("/metadata", "/ImagingStudy", "/Endpoint/dicomweb"):
        r = httpx.get(f"{server.fhir}{path}", params=params, headers=headers)
        assert r.status_code == 406, path
        assert check_resource(r.json())["issue"][0]["code"] == "not-supported"


def test_format_parameter_overrides_accept(server: LiveServer) -> None:
    r = httpx.get(
        f"{server.fhir}/metadata", params={"_format": "json"}, headers={"Accept": "text/xml"}
    )
    assert r.status_code == 200
    pretty = httpx.get(f"{server.fhir}/metadata", params={"_pretty": "true"})
    assert b"\n  " in pretty.content


def test_cors_on_fhir_including_metadata_and_errors(server: LiveServer) -> None:
    origin = {"Origin": "https://phr.example.org"}
    for path in ("/metadata", "/ImagingStudy", "/Patient/nope"):
        r = httpx.get(f"{server.fhir}{path}", headers=origin)
        assert r.headers["access-control-allow-origin"] in ("*", "https://phr.example.org"), path
    pre = httpx.options(
        f"{server.fhir}/ImagingStudy",
        headers={
            **origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert pre.status_code == 200
    assert "GET" in pre.headers["access-control-allow-methods"]
    assert (
        "etag"
        in httpx.get(f"{server.fhir}/Endpoint/dicomweb", headers=origin)
        .headers["access-control-expose-headers"]
        .lower()
    )


def test_strict_and_lenient_handling(server: LiveServer) -> None:
    lenient = ok(f"{server.fhir}/ImagingStudy", {"bogus": "1", "modality": "CT"})
    assert lenient["total"] == 2
    assert "bogus" not in lenient["link"][0]["url"]  # self shows only what was applied
    strict = fhir_get(f"{server.fhir}/ImagingStudy", {"bogus": "1"}, headers=STRICT)
    assert strict.status_code == 400 and "bogus" in strict.json()["issue"][0]["diagnostics"]
    assert (
        fhir_get(f"{server.fhir}/ImagingStudy", {"_include": "*"}, headers=STRICT).status_code
        == 400
    )
    assert fhir_get(f"{server.fhir}/ImagingStudy", {"_include": "Patient:x"}).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"started": "2024-99-99"},
        {"started": "ap2024"},
        {"_count": "-3"},
        {"_count": "ten"},
        {"_offset": "x"},
        {"_total": "maybe"},
        {"patient": "Patient/a/b/c"},
        {"modality:exact": "CT"},
        {"_lastUpdated": "yesterday"},
        {"name:exact": "x"},
    ],
)
def test_malformed_known_parameters_are_400_even_when_lenient(
    server: LiveServer, params: dict[str, str]
) -> None:
    rtype = "Patient" if "name:exact" in params else "ImagingStudy"
    r = fhir_get(f"{server.fhir}/{rtype}", params)
    assert r.status_code == 400, r.text
    assert r.json()["issue"][0]["severity"] == "error"


@pytest.mark.parametrize(
    "query",
    [
        "patient=%00",
        "identifier=%7C%7C%7C",
        "started=ge",
        "_elements=,,,",
        "name=%25%5F",
        "_count=999999999999999999999",
        "identifier=" + "9" * 5000,
        "_id=../../etc",
        "subject:identifier=a%7Cb%7Cc",
        "modality=%C3%28",
    ],
)
def test_hostile_input_never_500(server: LiveServer, query: str) -> None:
    r = httpx.get(f"{server.fhir}/ImagingStudy?{query}")
    assert r.status_code in (200, 400), (query, r.status_code, r.text)
    check_resource(r.json())


def test_include_fan_out_is_capped(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.fhir import routes

    monkeypatch.setattr(routes, "MAX_INCLUDED", 1)
    bundle = ok(
        f"{server.fhir}/ImagingStudy",
        [("_include", "ImagingStudy:patient"), ("_include", "ImagingStudy:endpoint")],
    )
    assert len(entries(bundle, "include")) == 1
    outcome = entries(bundle, "outcome")
    assert outcome and outcome[0]["issue"][0]["severity"] == "warning"


def test_count_is_capped_at_the_maximum(server: LiveServer) -> None:
    bundle = ok(f"{server.fhir}/ImagingStudy", {"_count": "100000"})
    assert "_count=200" in bundle["link"][0]["url"]


def test_endpoint_search(server: LiveServer) -> None:
    assert ok(f"{server.fhir}/Endpoint", {"connection-type": "dicom-wado-rs"})["total"] == 1
    assert ok(f"{server.fhir}/Endpoint", {"connection-type": "hl7-fhir-rest"})["total"] == 0
    found = entries(ok(f"{server.fhir}/Endpoint"))
    assert found[0]["address"] == server.dicomweb
