"""ImagingStudy and Patient search/read on the live server; every body validated with R4B."""

from __future__ import annotations

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
from tests.fhir_helpers import check_profile, entries, fhir_get, link, load_profile, ok

#: Surface behaviour, not access control (that is test_isolation.py and test_smart_*.py,
#: with authorization on).
SERVER_SETTINGS = {"auth": "off"}

DCM = "http://dicom.nema.org/resources/ontology/DCM"


@dataclass
class Corpus:
    server: LiveServer
    specs: list[StudySpec]
    patients: dict[str, str]  # DICOM Patient ID -> FHIR id

    @property
    def fhir(self) -> str:
        return self.server.fhir


def store(server: LiveServer, spec: StudySpec) -> None:
    datasets = [pydicom.dcmread(io.BytesIO(b)) for b in factory.files(spec)]
    DICOMwebClient(server.dicomweb).store_instances(datasets)


@pytest.fixture(scope="module")
def corpus(live_server: LiveServer) -> Iterator[Corpus]:
    specs = factory.corpus()
    for spec in specs:
        store(live_server, spec)
    patients = {}
    for pid in ("PAT-1", "PAT-2", "PAT-3"):
        found = entries(ok(f"{live_server.fhir}/Patient", {"identifier": pid}))
        assert len(found) == 1
        patients[pid] = found[0]["id"]
    yield Corpus(live_server, specs, patients)


def study_ids(bundle: dict[str, Any]) -> set[str]:
    return {r["id"] for r in entries(bundle)}


def test_search_by_patient_returns_that_patients_studies(corpus: Corpus) -> None:
    pat = corpus.patients["PAT-1"]
    for param in ("patient", "subject"):
        for value in (pat, f"Patient/{pat}", f"{corpus.fhir}/Patient/{pat}"):
            bundle = ok(f"{corpus.fhir}/ImagingStudy", {param: value})
            assert bundle["total"] == 2
            assert study_ids(bundle) == {corpus.specs[0].study_uid, corpus.specs[1].study_uid}
    by_ident = ok(f"{corpus.fhir}/ImagingStudy", {"patient:identifier": "PAT-2"})
    assert study_ids(by_ident) == {corpus.specs[2].study_uid}
    chained = ok(f"{corpus.fhir}/ImagingStudy", {"patient.identifier": "PAT-3"})
    assert study_ids(chained) == {corpus.specs[3].study_uid}


def test_order_is_newest_first(corpus: Corpus) -> None:
    bundle = ok(f"{corpus.fhir}/ImagingStudy")
    started = [r["started"] for r in entries(bundle)]
    assert started == sorted(started, reverse=True)


def test_search_by_identifier(corpus: Corpus) -> None:
    uid = corpus.specs[1].study_uid
    for value in (f"urn:dicom:uid|urn:oid:{uid}", f"urn:oid:{uid}", "A-1002", "|A-1002"):
        bundle = ok(f"{corpus.fhir}/ImagingStudy", {"identifier": value})
        assert study_ids(bundle) == {uid}, value
    assert ok(f"{corpus.fhir}/ImagingStudy", {"identifier": "urn:dicom:uid|A-1002"})["total"] == 0
    both = ok(f"{corpus.fhir}/ImagingStudy", {"identifier": "A-1001,A-2001"})
    assert study_ids(both) == {corpus.specs[0].study_uid, corpus.specs[2].study_uid}
    smart = ok(
        f"{corpus.fhir}/ImagingStudy",
        {"patient": corpus.patients["PAT-1"], "identifier": f"urn:oid:{corpus.specs[2].study_uid}"},
    )
    assert smart["total"] == 0  # AND across parameters


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-10", {0}),
        ("eq2024-03", {1, 3}),
        ("lt2024-01-10", {2}),
        ("le2024-01-10", {0, 2}),
        ("gt2024-03-20", {3}),
        ("ge2024-03-20", {1, 3}),
        ("ne2024-03-20", {0, 2, 3}),
        ("sa2024", set()),
        ("eb2024", {2}),
        ("2024-03-20T23:59:00Z", {1}),
    ],
)
def test_search_by_started(corpus: Corpus, value: str, expected: set[int]) -> None:
    bundle = ok(f"{corpus.fhir}/ImagingStudy", {"started": value})
    assert study_ids(bundle) == {corpus.specs[i].study_uid for i in expected}


def test_started_range_with_two_values(corpus: Corpus) -> None:
    r = httpx.get(f"{corpus.fhir}/ImagingStudy?started=ge2024-01-01&started=lt2024-03-21")
    assert {e["resource"]["id"] for e in r.json()["entry"]} == {
        corpus.specs[0].study_uid,
        corpus.specs[1].study_uid,
    }


def test_search_by_modality_status_endpoint_id(corpus: Corpus) -> None:
    mr = ok(f"{corpus.fhir}/ImagingStudy", {"modality": f"{DCM}|MR"})
    assert study_ids(mr) == {corpus.specs[1].study_uid, corpus.specs[3].study_uid}
    assert ok(f"{corpus.fhir}/ImagingStudy", {"modality": "http://other|MR"})["total"] == 0
    assert ok(f"{corpus.fhir}/ImagingStudy", {"status": "available"})["total"] == 4
    assert ok(f"{corpus.fhir}/ImagingStudy", {"status": "cancelled"})["total"] == 0
    assert ok(f"{corpus.fhir}/ImagingStudy", {"endpoint": "Endpoint/dicomweb"})["total"] == 4
    assert ok(f"{corpus.fhir}/ImagingStudy", {"endpoint": "Endpoint/other"})["total"] == 0
    uid = corpus.specs[3].study_uid
    assert study_ids(ok(f"{corpus.fhir}/ImagingStudy", {"_id": uid})) == {uid}


def test_last_updated(corpus: Corpus) -> None:
    assert ok(f"{corpus.fhir}/ImagingStudy", {"_lastUpdated": "gt2000-01-01"})["total"] == 4
    assert ok(f"{corpus.fhir}/ImagingStudy", {"_lastUpdated": "gt2999-01-01"})["total"] == 0
    one = entries(ok(f"{corpus.fhir}/ImagingStudy", {"_count": 1}))[0]
    stamp = one["meta"]["lastUpdated"]
    found = ok(f"{corpus.fhir}/ImagingStudy", {"_lastUpdated": f"eq{stamp}"})
    assert one["id"] in study_ids(found)


def test_resource_content_matches_the_dicom(corpus: Corpus) -> None:
    spec = corpus.specs[0]
    study = ok(f"{corpus.fhir}/ImagingStudy/{spec.study_uid}")
    assert study["numberOfSeries"] == 2 and study["numberOfInstances"] == 5
    assert study["description"] == "CT head" and study["started"] == "2024-01-10"
    assert study["referrer"] == {"display": "Meredith Grey"}
    assert [s["number"] for s in study["series"]] == [1, 2]
    assert [len(s["instance"]) for s in study["series"]] == [3, 2]
    assert [i["number"] for i in study["series"][0]["instance"]] == [1, 2, 3]
    assert study["subject"]["reference"] == f"Patient/{corpus.patients['PAT-1']}"
    assert check_profile(study, load_profile("imageshare-imagingstudy")) == []


def test_patient_search_and_read(corpus: Corpus) -> None:
    for params, pid in (
        ({"name": "müller"}, "PAT-2"),
        ({"name": "MULLER"}, "PAT-2"),
        ({"name": "zoe"}, "PAT-2"),
        ({"name:contains": "mithso"}, "PAT-3"),
        ({"birthdate": "1965-04-12"}, "PAT-1"),
        ({"birthdate": "ge2000"}, "PAT-3"),
        ({"identifier": "|PAT-1"}, "PAT-1"),
        ({"_id": corpus.patients["PAT-2"]}, "PAT-2"),
    ):
        found = entries(ok(f"{corpus.fhir}/Patient", params))
        assert [p["identifier"][0]["value"] for p in found] == [pid], params
    smiths = ok(f"{corpus.fhir}/Patient", {"name": "smith"})
    assert smiths["total"] == 2  # Smith and Smithson: "starts with" on name parts
    assert ok(f"{corpus.fhir}/Patient", {"gender": "female"})["total"] == 2
    patient = ok(f"{corpus.fhir}/Patient/{corpus.patients['PAT-2']}")
    assert patient["name"][0]["family"] == "Müller" and patient["birthDate"] == "1992-07-30"
    assert check_profile(patient, load_profile("imageshare-patient")) == []


def test_paging_links_walk_every_result_once(corpus: Corpus) -> None:
    url: str | None = f"{corpus.fhir}/ImagingStudy?_count=1&modality=CT,MR"
    seen: list[str] = []
    pages = 0
    while url:
        bundle = ok(url)
        assert bundle["total"] == 4
        seen += [r["id"] for r in entries(bundle)]
        assert link(bundle, "self") is not None and "modality=CT,MR" in link(bundle, "self")
        url = link(bundle, "next")
        pages += 1
    assert pages == 4 and len(seen) == len(set(seen)) == 4
    last = ok(f"{corpus.fhir}/ImagingStudy?_count=1&_offset=3")
    back = ok(link(last, "previous"))
    assert entries(back)[0]["id"] == seen[2]
    assert link(last, "next") is None
    first = ok(link(last, "first"))
    assert entries(first)[0]["id"] == seen[0]


def test_total_none_summary_count_and_elements(corpus: Corpus) -> None:
    none = ok(f"{corpus.fhir}/ImagingStudy", {"_total": "none", "_count": 2})
    assert "total" not in none and len(entries(none)) == 2 and link(none, "next")
    count = ok(f"{corpus.fhir}/ImagingStudy", {"_summary": "count"})
    assert count["total"] == 4 and "entry" not in count
    zero = ok(f"{corpus.fhir}/ImagingStudy", {"_count": 0})
    assert zero["total"] == 4 and "entry" not in zero
    subset = entries(ok(f"{corpus.fhir}/ImagingStudy", {"_elements": "identifier"}))
    for r in subset:
        assert set(r) == {"resourceType", "id", "meta", "identifier", "status", "subject"}
        assert {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
            "code": "SUBSETTED",
        } in r["meta"]["tag"]


def test_include_patient_and_endpoint(corpus: Corpus) -> None:
    bundle = ok(
        f"{corpus.fhir}/ImagingStudy",
        [
            ("patient", corpus.patients["PAT-1"]),
            ("_include", "ImagingStudy:patient"),
            ("_include", "ImagingStudy:endpoint"),
        ],
    )
    included = entries(bundle, "include")
    assert sorted(r["resourceType"] for r in included) == ["Endpoint", "Patient"]
    endpoint = next(r for r in included if r["resourceType"] == "Endpoint")
    assert endpoint["address"] == corpus.server.dicomweb
    assert check_profile(endpoint, load_profile("imageshare-wado-endpoint")) == []
    assert bundle["total"] == 2  # includes are not counted


def test_read_vread_etag(corpus: Corpus) -> None:
    uid = corpus.specs[2].study_uid
    r = fhir_get(f"{corpus.fhir}/ImagingStudy/{uid}")
    version = r.json()["meta"]["versionId"]
    assert r.headers["etag"] == f'W/"{version}"' and r.headers["last-modified"]
    again = httpx.get(
        f"{corpus.fhir}/ImagingStudy/{uid}", headers={"If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    assert ok(f"{corpus.fhir}/ImagingStudy/{uid}/_history/{version}")["id"] == uid
    old = fhir_get(f"{corpus.fhir}/ImagingStudy/{uid}/_history/0")
    assert old.status_code == 404 and old.json()["issue"][0]["code"] == "not-found"


def test_post_search_form(corpus: Corpus) -> None:
    r = httpx.post(
        f"{corpus.fhir}/ImagingStudy/_search",
        data={"identifier": "A-2001"},
        headers={"Accept": "application/fhir+json"},
    )
    assert r.status_code == 200 and r.json()["total"] == 1
    bad = httpx.post(f"{corpus.fhir}/ImagingStudy/_search", json={"identifier": "A-2001"})
    assert bad.status_code == 415 and bad.json()["resourceType"] == "OperationOutcome"
