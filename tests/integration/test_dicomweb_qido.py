"""QIDO-RS on the live server: dicomweb-client for searches, raw HTTP for errors and headers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from dicomweb_client.api import DICOMwebClient
from pydicom.uid import generate_uid

from app.demo import StudySpec, study_files
from tests import factory
from tests.conftest import LiveServer, run_server
from tests.integration.test_dicomweb_stow import stow

#: These tests are about archive behaviour; access control is tested in test_isolation.py
#: and test_smart_*.py, with authorization on.
SERVER_SETTINGS = {"auth": "off"}


@pytest.fixture(scope="module")
def corpus(live_server: LiveServer) -> list[StudySpec]:
    specs = factory.corpus()
    for spec in specs:
        assert stow(live_server, list(study_files(spec))).status_code == 200
    return specs


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> DICOMwebClient:
    return DICOMwebClient(live_server.dicomweb)


def uids(results: list[dict], tag: str = "0020000D") -> set[str]:
    return {r[tag]["Value"][0] for r in results}


def test_all_studies_with_default_attributes(
    client: DICOMwebClient, corpus: list[StudySpec]
) -> None:
    results = client.search_for_studies()
    assert uids(results) == {s.study_uid for s in corpus}
    head = next(r for r in results if r["0020000D"]["Value"][0] == corpus[0].study_uid)
    for tag in (
        "00080020",
        "00080030",
        "00080050",
        "00080061",
        "00100010",
        "00100020",
        "00100030",
        "00100040",
        "00201206",
        "00201208",
        "00081190",
        "00080056",
    ):
        assert tag in head, tag
    assert head["00080061"]["Value"] == ["CT"]
    assert head["00201206"]["Value"] == [2]
    assert head["00201208"]["Value"] == [5]
    assert head["00100010"]["Value"] == [{"Alphabetic": "Smith^John"}]
    assert head["00081190"]["Value"] == [f"{client.base_url}/studies/{corpus[0].study_uid}"]


def test_multi_modality_study(client: DICOMwebClient, corpus: list[StudySpec]) -> None:
    (mr,) = client.search_for_studies(search_filters={"StudyInstanceUID": corpus[1].study_uid})
    assert mr["00080061"]["Value"] == ["DOC", "MR"]
    assert mr["00201208"]["Value"] == [3]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"PatientID": "PAT-1"}, [0, 1]),
        ({"PatientName": "Smith^John"}, [0, 1]),
        ({"PatientName": "smith*"}, [0, 1, 3]),
        ({"PatientName": "SMITH^J?HN"}, [0, 1]),
        ({"PatientName": "Müller^Zoë"}, [2]),
        ({"PatientName": "MÜLLER*"}, [2]),
        ({"AccessionNumber": "A-100*"}, [0, 1]),
        ({"AccessionNumber": "a-100*"}, []),
        ({"StudyDate": "20240110"}, [0]),
        ({"StudyDate": "20240101-20240321"}, [0, 1, 3]),
        ({"StudyDate": "-20231231"}, [2]),
        ({"StudyDate": "20240320-"}, [1, 3]),
        ({"StudyTime": "080000-090000"}, [0, 3]),
        ({"ModalitiesInStudy": "MR"}, [1, 3]),
        ({"ModalitiesInStudy": "CT,DOC"}, [0, 1, 2]),
        ({"PatientSex": "F"}, [2, 3]),
        ({"ReferringPhysicianName": "Grey*"}, [0]),
        ({"StudyDescription": "MR*"}, [1, 3]),
    ],
)
def test_study_matching(
    live_server: LiveServer, corpus: list[StudySpec], filters: dict, expected: list[int]
) -> None:
    r = httpx.get(f"{live_server.dicomweb}/studies", params=filters)
    if not expected:
        assert r.status_code == 204
        assert r.content == b""
        return
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/dicom+json")
    assert uids(r.json()) == {corpus[i].study_uid for i in expected}


def test_uid_list_matching(client: DICOMwebClient, corpus: list[StudySpec]) -> None:
    wanted = f"{corpus[0].study_uid},{corpus[2].study_uid}"
    results = client.search_for_studies(search_filters={"StudyInstanceUID": wanted})
    assert uids(results) == {corpus[0].study_uid, corpus[2].study_uid}


def test_percent_encoded_non_ascii_name(live_server: LiveServer, corpus: list[StudySpec]) -> None:
    r = httpx.get(f"{live_server.dicomweb}/studies?PatientName=M%C3%BCller%5EZo%C3%AB")
    assert uids(r.json()) == {corpus[2].study_uid}
    assert r.json()[0]["00100010"]["Value"] == [{"Alphabetic": "Müller^Zoë"}]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("zoe", [2]), ("mull", [2]), ("john", [0, 1]), ("smith", [0, 1, 3]), ("ann smiths", [3])],
)
def test_fuzzy_person_names(
    client: DICOMwebClient, corpus: list[StudySpec], name: str, expected: list[int]
) -> None:
    results = client.search_for_studies(search_filters={"PatientName": name}, fuzzymatching=True)
    assert uids(results) == {corpus[i].study_uid for i in expected}


def test_includefield_tags_keywords_and_all(
    live_server: LiveServer, corpus: list[StudySpec]
) -> None:
    base = f"{live_server.dicomweb}/studies?StudyInstanceUID={corpus[0].study_uid}"
    # what OHIF sends: tag numbers with a percent-encoded comma
    r = httpx.get(base + "&includefield=00081030%2C00080060%2CIssuerOfPatientID")
    obj = r.json()[0]
    assert obj["00081030"]["Value"] == ["CT head"]
    assert "00080060" not in obj  # a series attribute is not returned at study level
    everything = httpx.get(base + "&includefield=all").json()[0]
    assert "00100010" in everything and "00081030" in everything
    assert "00080018" not in everything  # instance attributes never at study level


def test_series_levels(client: DICOMwebClient, corpus: list[StudySpec]) -> None:
    series = client.search_for_series(corpus[0].study_uid)
    assert len(series) == 2
    first = series[0]
    assert first["00080060"]["Value"] == ["CT"]
    assert first["00201209"]["Value"] == [3]
    assert first["00081190"]["Value"][0].endswith(
        f"/studies/{corpus[0].study_uid}/series/{first['0020000E']['Value'][0]}"
    )
    all_mr = client.search_for_series(search_filters={"Modality": "MR"})
    assert len(all_mr) == 2
    # unscoped series results carry the study's attributes too
    assert all("0020000D" in s and "00100010" in s for s in all_mr)


def test_instance_levels(client: DICOMwebClient, corpus: list[StudySpec]) -> None:
    series = client.search_for_series(corpus[0].study_uid)
    s_uid = series[0]["0020000E"]["Value"][0]
    inst = client.search_for_instances(corpus[0].study_uid, s_uid)
    assert [i["00200013"]["Value"][0] for i in inst] == [1, 2, 3]
    for i in inst:
        for tag in ("00080016", "00080018", "00280010", "00280011", "00280100", "00081190"):
            assert tag in i
    in_study = client.search_for_instances(corpus[0].study_uid)
    assert len(in_study) == 5
    assert all("0020000E" in i for i in in_study)
    everywhere = client.search_for_instances(
        search_filters={"SOPClassUID": "1.2.840.10008.5.1.4.1.1.104.1"}
    )
    assert len(everywhere) == 1
    assert everywhere[0]["0020000D"]["Value"] == [corpus[1].study_uid]


def test_limit_offset_and_warning(live_server: LiveServer, corpus: list[StudySpec]) -> None:
    r = httpx.get(f"{live_server.dicomweb}/studies", params={"limit": 2})
    assert len(r.json()) == 2
    assert r.headers["warning"].startswith("299 ")
    seen = uids(r.json())
    r2 = httpx.get(f"{live_server.dicomweb}/studies", params={"limit": 2, "offset": 2})
    assert len(r2.json()) == 2
    assert "warning" not in r2.headers
    assert seen.isdisjoint(uids(r2.json()))
    assert seen | uids(r2.json()) == {s.study_uid for s in corpus}
    assert httpx.get(f"{live_server.dicomweb}/studies", params={"offset": 10}).status_code == 204


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("StudyDate=2024-01-01", "StudyDate"),
        ("StudyDate=20241301", "StudyDate"),
        ("StudyDate=20240301-20240101", "StudyDate"),
        ("StudyInstanceUID=1.2.abc", "StudyInstanceUID"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("fuzzymatching=maybe", "fuzzymatching"),
        ("includefield=NoSuchKeyword", "includefield"),
        ("SeriesNumber=x", "SeriesNumber"),
    ],
)
def test_malformed_values_are_400(
    live_server: LiveServer, corpus: list[StudySpec], query: str, param: str
) -> None:
    path = "/series" if param == "SeriesNumber" else "/studies"
    r = httpx.get(f"{live_server.dicomweb}{path}?{query}")
    assert r.status_code == 400
    assert param in r.json()["message"]


def test_unknown_parameters_are_ignored(live_server: LiveServer, corpus: list[StudySpec]) -> None:
    r = httpx.get(f"{live_server.dicomweb}/studies?foo=bar&_=123&PatientID=PAT-2")
    assert r.status_code == 200
    assert uids(r.json()) == {corpus[2].study_uid}


def test_unsupported_matching_key_is_returned_with_warning(
    live_server: LiveServer, corpus: list[StudySpec]
) -> None:
    r = httpx.get(
        f"{live_server.dicomweb}/studies", params={"PatientID": "PAT-2", "PatientComments": "x"}
    )
    assert r.status_code == 200
    assert "PatientComments" in r.headers["warning"]


def test_xml_only_accept_is_406(live_server: LiveServer, corpus: list[StudySpec]) -> None:
    r = httpx.get(
        f"{live_server.dicomweb}/studies",
        headers={"Accept": 'multipart/related; type="application/dicom+xml"'},
    )
    assert r.status_code == 406


def test_server_maximum_caps_results(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with run_server(tmp_path, auth="off", qido_max_results=2) as server:
        for i in range(3):
            spec = factory.study(f"CAP-{i}", per_series=1)
            assert stow(server, factory.files(spec)).status_code == 200
        r = httpx.get(f"{server.dicomweb}/studies", params={"limit": 50})
        assert len(r.json()) == 2
        assert "maximum" in r.headers["warning"]


@pytest.fixture
def unique_study() -> Iterator[str]:
    yield str(generate_uid())


def test_no_match_is_204(
    live_server: LiveServer, corpus: list[StudySpec], unique_study: str
) -> None:
    r = httpx.get(f"{live_server.dicomweb}/studies/{unique_study}/series")
    assert r.status_code == 204
