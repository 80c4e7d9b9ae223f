"""DocumentReference and Binary on the live server: reports from ingest, create, delete."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient

from app.demo import StudySpec
from tests import factory
from tests.conftest import LiveServer
from tests.fhir_helpers import (
    check_profile,
    check_resource,
    entries,
    fhir_get,
    load_profile,
    ok,
    sr_report,
)

#: Surface behaviour, not access control (that is test_isolation.py and test_smart_*.py,
#: with authorization on).
SERVER_SETTINGS = {"auth": "off"}

FHIR_JSON = "application/fhir+json"
LOINC = "http://loinc.org"


@dataclass
class Data:
    server: LiveServer
    pdf_study: StudySpec
    sr_study: StudySpec
    other: StudySpec
    patient: str
    other_patient: str

    @property
    def fhir(self) -> str:
        return self.server.fhir


def stow(server: LiveServer, blobs: list[bytes]) -> None:
    DICOMwebClient(server.dicomweb).store_instances([pydicom.dcmread(io.BytesIO(b)) for b in blobs])


def patient_id(server: LiveServer, pid: str) -> str:
    return str(entries(ok(f"{server.fhir}/Patient", {"identifier": pid}))[0]["id"])


@pytest.fixture(scope="module")
def data(live_server: LiveServer) -> Iterator[Data]:
    pdf_study = factory.study("DOC-1", "Report^Pat", with_pdf_report=True, study_date="20240301")
    sr_study = factory.study("DOC-1", "Report^Pat", study_date="20240401")
    other = factory.study("DOC-2", "Other^Pat")
    stow(live_server, factory.files(pdf_study))
    stow(live_server, [*factory.files(sr_study), sr_report(sr_study, "No mass.", "Normal <ok>")])
    stow(live_server, factory.files(other))
    yield Data(
        live_server,
        pdf_study,
        sr_study,
        other,
        patient_id(live_server, "DOC-1"),
        patient_id(live_server, "DOC-2"),
    )


def docs(data: Data, params: Any) -> list[dict[str, Any]]:
    return entries(ok(f"{data.fhir}/DocumentReference", params))


def test_reports_become_document_references(data: Data) -> None:
    found = docs(data, {"patient": data.patient})
    assert len(found) == 2
    by_type = {d["content"][0]["attachment"]["contentType"]: d for d in found}
    pdf, html = by_type["application/pdf"], by_type["text/html"]
    for d, study in ((pdf, data.pdf_study), (html, data.sr_study)):
        assert d["context"]["related"][0]["reference"] == f"ImagingStudy/{study.study_uid}"
        assert d["subject"] == {"reference": f"Patient/{data.patient}"}
        assert d["status"] == "current" and "docStatus" not in d
        assert check_profile(d, load_profile("imageshare-documentreference")) == []
    raw = httpx.get(pdf["content"][0]["attachment"]["url"])
    assert raw.status_code == 200 and raw.headers["content-type"] == "application/pdf"
    assert raw.content.startswith(b"%PDF-")
    assert len(raw.content) == pdf["content"][0]["attachment"]["size"]
    sha1 = base64.b64encode(hashlib.sha1(raw.content).digest()).decode()
    assert pdf["content"][0]["attachment"]["hash"] == sha1
    page = httpx.get(html["content"][0]["attachment"]["url"])
    assert page.headers["content-type"].startswith("text/html")
    assert "sandbox" in page.headers["content-security-policy"]
    assert "Normal &lt;ok&gt;" in page.text
    assert html["type"]["coding"][0]["code"] == "18748-4"


def test_document_search_parameters(data: Data) -> None:
    uid = data.sr_study.study_uid
    assert len(docs(data, {"related": f"ImagingStudy/{uid}"})) == 1
    assert len(docs(data, {"related:identifier": f"urn:dicom:uid|urn:oid:{uid}"})) == 1
    assert len(docs(data, {"type": f"{LOINC}|18748-4"})) == 2
    assert len(docs(data, {"category": f"{LOINC}|LP29684-5", "patient": data.patient})) == 2
    assert docs(data, {"category": "http://other|LP29684-5"}) == []
    assert len(docs(data, {"status": "current"})) == 2
    assert docs(data, {"status": "superseded"}) == []
    assert len(docs(data, {"date": "gt2000"})) == 2
    assert docs(data, {"date": "lt2000"}) == []
    assert len(docs(data, {"period": "2024-04"})) == 1
    assert len(docs(data, {"patient.identifier": "DOC-1"})) == 2
    assert len(docs(data, {"contenttype": "application/pdf"})) == 1
    assert docs(data, {"patient": data.other_patient}) == []


def test_revinclude_reports_with_their_studies(data: Data) -> None:
    bundle = ok(
        f"{data.fhir}/ImagingStudy",
        [("patient", data.patient), ("_revinclude", "DocumentReference:related")],
    )
    assert bundle["total"] == 2
    included = entries(bundle, "include")
    assert len(included) == 2 and {r["resourceType"] for r in included} == {"DocumentReference"}
    doc_bundle = ok(
        f"{data.fhir}/DocumentReference",
        [
            ("patient", data.patient),
            ("_include", "DocumentReference:related"),
            ("_include", "DocumentReference:patient"),
        ],
    )
    assert sorted(r["resourceType"] for r in entries(doc_bundle, "include")) == [
        "ImagingStudy",
        "ImagingStudy",
        "Patient",
    ]
    patient_bundle = ok(
        f"{data.fhir}/Patient",
        [
            ("_id", data.patient),
            ("_revinclude", "ImagingStudy:patient"),
            ("_revinclude", "DocumentReference:subject"),
        ],
    )
    kinds = sorted(r["resourceType"] for r in entries(patient_bundle, "include"))
    assert kinds == ["DocumentReference"] * 2 + ["ImagingStudy"] * 2


def test_binary_as_fhir_resource_and_406(data: Data) -> None:
    pdf = docs(data, {"patient": data.patient, "contenttype": "application/pdf"})[0]
    url = pdf["content"][0]["attachment"]["url"]
    resource = ok(url, headers={"Accept": FHIR_JSON})
    assert resource["resourceType"] == "Binary" and resource["contentType"] == "application/pdf"
    assert base64.b64decode(resource["data"]).startswith(b"%PDF-")
    assert resource["securityContext"] == {"reference": f"DocumentReference/{pdf['id']}"}
    assert ok(url, {"_format": "json"})["resourceType"] == "Binary"
    refused = httpx.get(url, headers={"Accept": "image/png"})
    assert refused.status_code == 406 and refused.json()["resourceType"] == "OperationOutcome"
    assert httpx.get(url, headers={"Accept": "application/*"}).status_code == 200


def new_doc(data: Data, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": LOINC, "code": "18748-4"}]},
        "category": [{"coding": [{"system": LOINC, "code": "LP29684-5"}]}],
        "subject": {"reference": f"Patient/{data.patient}"},
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain",
                    "data": base64.b64encode(b"Second opinion: normal.").decode(),
                    "title": "Second opinion",
                }
            }
        ],
        "context": {"related": [{"reference": f"ImagingStudy/{data.pdf_study.study_uid}"}]},
    }
    body.update(extra)
    return body


def post(data: Data, body: Any, **headers: str) -> httpx.Response:
    h = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, **headers}
    content = body if isinstance(body, bytes) else httpx.Request("POST", "/", json=body).content
    return httpx.post(f"{data.fhir}/DocumentReference", content=content, headers=h)


def test_create_with_inline_data(data: Data) -> None:
    r = post(data, new_doc(data, docStatus="final"))
    assert r.status_code == 201, r.text
    created = check_resource(r.json())
    assert r.headers["location"] == f"{data.fhir}/DocumentReference/{created['id']}/_history/1"
    assert r.headers["etag"] == 'W/"1"'
    assert "docStatus" not in created and "data" not in created["content"][0]["attachment"]
    assert created["masterIdentifier"]["value"].startswith("urn:uuid:")
    assert check_profile(created, load_profile("imageshare-documentreference")) == []
    content = httpx.get(created["content"][0]["attachment"]["url"])
    assert content.content == b"Second opinion: normal."
    assert ok(f"{data.fhir}/DocumentReference/{created['id']}") == created
    related = docs(
        data, {"related": f"ImagingStudy/{data.pdf_study.study_uid}", "contenttype": "text/plain"}
    )
    assert [d["id"] for d in related] == [created["id"]]
    minimal = post(data, new_doc(data), Prefer="return=minimal")
    assert minimal.status_code == 201 and minimal.content == b"" and minimal.headers["location"]


def test_create_via_binary(data: Data) -> None:
    pdf = b"%PDF-1.4 uploaded"
    r = httpx.post(f"{data.fhir}/Binary", content=pdf, headers={"Content-Type": "application/pdf"})
    assert r.status_code == 201, r.text
    binary_id = check_resource(r.json())["id"]
    body = new_doc(
        data, masterIdentifier={"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.3.999"}
    )
    body["content"] = [
        {"attachment": {"contentType": "application/pdf", "url": f"Binary/{binary_id}"}}
    ]
    created = post(data, body)
    assert created.status_code == 201, created.text
    att = created.json()["content"][0]["attachment"]
    assert att["url"] == f"{data.fhir}/Binary/{binary_id}" and att["size"] == len(pdf)
    assert httpx.get(att["url"]).content == pdf
    duplicate = post(data, body)
    assert duplicate.status_code == 409
    fhir_binary = {"resourceType": "Binary", "contentType": "text/plain", "data": "aGk="}
    r2 = httpx.post(f"{data.fhir}/Binary", json=fhir_binary, headers={"Content-Type": FHIR_JSON})
    assert (
        r2.status_code == 201
        and httpx.get(r2.headers["location"].split("/_history")[0]).content == b"hi"
    )


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"status": "bogus"}, "status"),
        ({"status": "entered-in-error"}, "status must be"),
        ({"content": []}, "exactly one content"),
        ({"subject": {"reference": "Patient/doesnotexist"}}, "not known"),
        ({"subject": {"reference": "Group/1"}}, "subject must reference"),
        ({"context": {"related": [{"reference": "ImagingStudy/1.2.3.4"}]}}, "not known"),
        ({"category": [{"text": "a"}, {"text": "b"}]}, "at most one category"),
        ({"unknownElement": 1}, "Extra inputs"),
        ({"content": [{"attachment": {"contentType": "text/plain"}}]}, "either data or a url"),
        (
            {"content": [{"attachment": {"contentType": "text/plain", "url": "http://x/y"}}]},
            "Binary",
        ),
        (
            {"content": [{"attachment": {"contentType": "text/plain", "data": "aGk=", "size": 5}}]},
            "size",
        ),
        (
            {
                "content": [
                    {"attachment": {"contentType": "text/plain", "data": "aGk=", "hash": "AAAA"}}
                ]
            },
            "hash",
        ),
        ({"resourceType": "Observation"}, "resourceType"),
    ],
)
def test_invalid_documents_are_422(data: Data, change: dict[str, Any], needle: str) -> None:
    r = post(data, new_doc(data, **change))
    assert r.status_code == 422, r.text
    outcome = check_resource(r.json())
    assert needle in outcome["issue"][0]["diagnostics"]


def test_study_of_another_patient_is_422(data: Data) -> None:
    body = new_doc(
        data, context={"related": [{"reference": f"ImagingStudy/{data.other.study_uid}"}]}
    )
    r = post(data, body)
    assert r.status_code == 422 and "another patient" in r.text


def test_media_type_and_syntax_errors(data: Data) -> None:
    assert post(data, b"{not json").status_code == 400
    assert post(data, b"[1, 2]").status_code == 400
    assert post(data, b"[" * 100_000 + b"]" * 100_000).status_code == 400
    xml = post(data, b"<DocumentReference/>", **{"Content-Type": "application/fhir+xml"})
    assert xml.status_code == 415 and check_resource(xml.json())
    other_version = post(
        data, new_doc(data), **{"Content-Type": "application/fhir+json; fhirVersion=5.0"}
    )
    assert other_version.status_code == 415
    refused = post(data, new_doc(data), Accept="application/fhir+xml")
    assert refused.status_code == 406
    no_type = httpx.post(f"{data.fhir}/Binary", content=b"x", headers={"Content-Type": ""})
    assert no_type.status_code == 415


def test_too_large(data: Data, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.fhir import create

    monkeypatch.setattr(create, "MAX_ATTACHMENT_BYTES", 10)
    r = httpx.post(f"{data.fhir}/Binary", content=b"x" * 11, headers={"Content-Type": "text/plain"})
    assert r.status_code == 413 and check_resource(r.json())


def test_deleting_the_report_instance_makes_its_document_gone(data: Data) -> None:
    spec = factory.study("DOC-9", "Gone^Pat", with_pdf_report=True)
    stow(data.server, factory.files(spec))
    doc = docs(data, {"related": f"ImagingStudy/{spec.study_uid}"})[0]
    binary_url = doc["content"][0]["attachment"]["url"]
    pid = patient_id(data.server, "DOC-9")
    r = httpx.delete(f"{data.server.dicomweb}/studies/{spec.study_uid}")
    assert r.status_code == 204
    for url in (
        f"{data.fhir}/DocumentReference/{doc['id']}",
        f"{data.fhir}/ImagingStudy/{spec.study_uid}",
        f"{data.fhir}/Patient/{pid}",
        binary_url,
    ):
        gone = fhir_get(url, headers={"Accept": FHIR_JSON})
        assert gone.status_code == 410, url
        assert gone.json()["issue"][0]["code"] == "deleted"
    assert docs(data, {"related": f"ImagingStudy/{spec.study_uid}"}) == []


def test_patient_with_posted_documents_outlives_its_studies(data: Data) -> None:
    spec = factory.study("DOC-8", "Keep^Pat")
    stow(data.server, factory.files(spec))
    pid = patient_id(data.server, "DOC-8")
    body = new_doc(data, subject={"reference": f"Patient/{pid}"}, context={})
    assert post(data, body).status_code == 201
    assert httpx.delete(f"{data.server.dicomweb}/studies/{spec.study_uid}").status_code == 204
    assert ok(f"{data.fhir}/Patient/{pid}")["id"] == pid
    assert len(docs(data, {"patient": pid})) == 1


def test_deeply_nested_resource_is_refused_cleanly(data: Data) -> None:
    deep: dict[str, Any] = {"url": "http://x", "valueString": "x"}
    for _ in range(400):
        deep = {"url": "http://x", "extension": [deep]}
    r = post(data, new_doc(data, extension=[deep]))
    assert r.status_code in (201, 422), r.text
