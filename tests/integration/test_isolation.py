"""Cross-patient leak matrix over every endpoint: patient A's token tries patient B's data by
UID (study, series, instance, metadata, bulk data, frames, rendered, thumbnails, WADO-URI), by
FHIR id (ImagingStudy, Patient, DocumentReference, Binary, vread), by search (QIDO at every
level and path; FHIR searches by patient, identifier and id) and by include (``_include``,
``_revinclude``); the count of leaks must be 0, while A still sees A's own.

B shares A's Patient ID under another issuer, so identity means Patient ID + Issuer.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pydicom
import pytest
from pydicom.uid import generate_uid

from app.demo import PatientSpec, SeriesSpec, StudySpec, study_files
from tests.conftest import LiveServer
from tests.integration.test_smart_flow import stow_with
from tests.smart_kit import SmartKit, bearer

DICOM_ANY = 'multipart/related; type="application/dicom"; transfer-syntax=*'
FRAMES_ANY = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
FHIR_JSON = "application/fhir+json"
SCOPE = "launch/patient openid fhirUser patient/*.rs"


@dataclass
class Stored:
    patient_id: str
    issuer: str
    name: str
    study: str
    series: str
    instance: str
    #: FHIR logical ids, read with a site token: Patient, DocumentReference, Binary.
    patient: str = ""
    document: str = ""
    binary: str = ""


@pytest.fixture(scope="module")
def kit(live_server: LiveServer) -> Iterator[SmartKit]:
    k = SmartKit(live_server)
    yield k
    k.close()


def _store(kit: SmartKit, site: dict[str, str], pid: str, issuer: str, name: str) -> Stored:
    spec = StudySpec(
        PatientSpec(pid, name, "19700101", "O", issuer),
        [SeriesSpec("CT", 2, 32, 32)],
        study_uid=str(generate_uid()),
        with_pdf_report=True,
    )
    files = list(study_files(spec))
    assert stow_with(kit.server, files, site).status_code == 200
    ds = pydicom.dcmread(io.BytesIO(files[0]))
    stored = Stored(pid, issuer, name, spec.study_uid, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    fhir = kit.server.fhir
    study = httpx.get(f"{fhir}/ImagingStudy/{spec.study_uid}", headers=site).json()
    stored.patient = study["subject"]["reference"].split("/")[-1]
    docs = httpx.get(f"{fhir}/DocumentReference", params={"patient": stored.patient}, headers=site)
    [doc] = [e["resource"] for e in docs.json()["entry"]]
    stored.document = doc["id"]
    stored.binary = doc["content"][0]["attachment"]["url"].split("/")[-1]
    return stored


@pytest.fixture(scope="module")
def world(kit: SmartKit) -> dict[str, Stored]:
    scope = "system/*.cruds"
    site = bearer(kit.backend_token(kit.backend(scope), scope))
    return {
        "A": _store(kit, site, "ISO-100", "HOSP-A", "Alpha^Ann"),
        "B": _store(kit, site, "ISO-100", "HOSP-B", "Beta^Bob"),
    }


@pytest.fixture(scope="module")
def tokens(kit: SmartKit, world: dict[str, Stored]) -> dict[str, dict[str, str]]:
    out = {}
    for key, stored in world.items():
        who = kit.patient(stored.patient_id, "1970-01-01", issuer=stored.issuer)
        out[key] = bearer(kit.authorize(kit.public_client(SCOPE), who, SCOPE))
    return out


def by_uid_paths(s: Stored) -> list[tuple[str, str]]:
    """(path, Accept) of every retrieve-style endpoint addressing ``s`` by UID."""
    study = f"/studies/{s.study}"
    series = f"{study}/series/{s.series}"
    instance = f"{series}/instances/{s.instance}"
    return [
        (study, DICOM_ANY),
        (series, DICOM_ANY),
        (instance, DICOM_ANY),
        (f"{study}/metadata", "application/dicom+json"),
        (f"{series}/metadata", "application/dicom+json"),
        (f"{instance}/metadata", "application/dicom+json"),
        (f"{instance}/bulkdata/7FE00010", "application/octet-stream"),
        (f"{instance}/bulkdata/7FE00010", 'multipart/related; type="application/octet-stream"'),
        (f"{instance}/frames/1", FRAMES_ANY),
        (f"{instance}/frames/1/rendered", "image/png"),
        (f"{instance}/frames/1/thumbnail", "image/jpeg"),
        (f"{instance}/rendered", "image/jpeg"),
        (f"{instance}/thumbnail", "image/jpeg"),
        (f"{series}/rendered", 'multipart/related; type="image/jpeg"'),
        (f"{series}/thumbnail", "image/jpeg"),
        (f"{study}/rendered", 'multipart/related; type="image/jpeg"'),
        (f"{study}/thumbnail", "image/jpeg"),
        (
            f"/../wado?requestType=WADO&studyUID={s.study}&seriesUID={s.series}"
            f"&objectUID={s.instance}&contentType=application/dicom",
            "application/dicom",
        ),
        (
            f"/../wado?requestType=WADO&studyUID={s.study}&seriesUID={s.series}"
            f"&objectUID={s.instance}",
            "image/jpeg",
        ),
    ]


def fhir_by_id(s: Stored) -> list[str]:
    return [
        f"/ImagingStudy/{s.study}",
        f"/ImagingStudy/{s.study}/_history/1",
        f"/Patient/{s.patient}",
        f"/Patient/{s.patient}/_history/1",
        f"/DocumentReference/{s.document}",
        f"/Binary/{s.binary}",
    ]


def fhir_searches(s: Stored) -> list[str]:
    """FHIR searches (with includes) that would return ``s``'s resources without the filter."""
    return [
        "/ImagingStudy",
        f"/ImagingStudy?patient={s.patient}",
        f"/ImagingStudy?subject=Patient/{s.patient}",
        f"/ImagingStudy?_id={s.study}",
        f"/ImagingStudy?identifier=urn:oid:{s.study}",
        f"/ImagingStudy?patient.identifier={s.patient_id}",
        "/ImagingStudy?_include=ImagingStudy:patient&_revinclude=DocumentReference:related",
        "/Patient",
        f"/Patient?_id={s.patient}",
        f"/Patient?identifier={s.patient_id}",
        "/Patient?_revinclude=ImagingStudy:patient&_revinclude=DocumentReference:patient",
        "/DocumentReference",
        f"/DocumentReference?patient={s.patient}",
        f"/DocumentReference?_id={s.document}",
        "/DocumentReference?_include=DocumentReference:patient&_include=DocumentReference:related",
    ]


def search_paths(s: Stored) -> list[str]:
    """QIDO searches that would find ``s`` if the compartment did not hold."""
    study = f"/studies/{s.study}"
    return [
        "/studies",
        "/series",
        "/instances",
        f"/studies?PatientID={s.patient_id}",
        f"/studies?PatientID={s.patient_id}&IssuerOfPatientID={s.issuer}",
        f"/studies?PatientName={s.name.split('^')[0]}*",
        "/studies?PatientName=*",
        f"/studies?StudyInstanceUID={s.study}",
        f"/series?StudyInstanceUID={s.study}",
        f"/series?SeriesInstanceUID={s.series}",
        f"/instances?SOPInstanceUID={s.instance}",
        f"/instances?StudyInstanceUID={s.study}&includefield=all",
        f"{study}/series",
        f"{study}/instances",
        f"{study}/series/{s.series}/instances",
        "/studies?limit=1000&offset=0&includefield=00100020,00100021",
    ]


def _leaked(response: httpx.Response, victim: Stored) -> bool:
    if response.status_code == 204:
        return False
    body = response.content
    secrets = (victim.study, victim.series, victim.instance, victim.patient, victim.document)
    return any(value.encode() in body for value in secrets if value)


def _fhir_leaked(response: httpx.Response, victim: Stored) -> bool:
    """Whether any returned resource (match or include) is the victim's; the Bundle's own links
    echo the query, so only entries count."""
    bundle = response.json()
    if bundle.get("total", 0) and not bundle.get("entry"):
        return True
    body = json.dumps([e.get("resource") for e in bundle.get("entry", [])]).encode()
    secrets = (victim.study, victim.patient, victim.document, victim.binary)
    return any(value.encode() in body for value in secrets if value)


def test_leak_matrix(
    kit: SmartKit, world: dict[str, Stored], tokens: dict[str, dict[str, str]]
) -> None:
    leaks: list[str] = []
    probes = 0
    for attacker, victim in (("A", "B"), ("B", "A")):
        headers = tokens[attacker]
        for path, accept in by_uid_paths(world[victim]):
            r = httpx.get(kit.server.dicomweb + path, headers={**headers, "Accept": accept})
            probes += 1
            if r.status_code != 404:
                leaks.append(f"{attacker}->{victim} {path}: {r.status_code}")
        for path in search_paths(world[victim]):
            r = httpx.get(
                kit.server.dicomweb + path, headers={**headers, "Accept": "application/dicom+json"}
            )
            probes += 1
            if r.status_code not in (200, 204) or _leaked(r, world[victim]):
                leaks.append(f"{attacker}->{victim} {path}: {r.status_code}")
        for path in fhir_by_id(world[victim]):
            r = httpx.get(kit.server.fhir + path, headers={**headers, "Accept": FHIR_JSON})
            probes += 1
            if r.status_code != 404:
                leaks.append(f"{attacker}->{victim} FHIR {path}: {r.status_code}")
        for path in fhir_searches(world[victim]):
            r = httpx.get(kit.server.fhir + path, headers={**headers, "Accept": FHIR_JSON})
            probes += 1
            if r.status_code != 200 or _fhir_leaked(r, world[victim]):
                leaks.append(f"{attacker}->{victim} FHIR {path}: {r.status_code}")
    assert probes == 2 * (19 + 16 + 6 + 15)
    assert leaks == [], f"{len(leaks)} leaks: {leaks}"


def test_each_patient_still_sees_their_own(
    kit: SmartKit, world: dict[str, Stored], tokens: dict[str, dict[str, str]]
) -> None:
    """The positive control that keeps the matrix from passing vacuously."""
    for key, stored in world.items():
        headers = tokens[key]
        for path, accept in by_uid_paths(stored):
            r = httpx.get(kit.server.dicomweb + path, headers={**headers, "Accept": accept})
            assert r.status_code == 200, (key, path, r.status_code)
        for path in search_paths(stored):
            if "PatientName=*" in path and key == "B":
                continue
            r = httpx.get(
                kit.server.dicomweb + path, headers={**headers, "Accept": "application/dicom+json"}
            )
            assert (
                r.status_code == 200 and stored.study.encode() in r.content
            ) or stored.instance.encode() in r.content, (key, path)


def test_etag_does_not_reveal_another_patients_study(
    kit: SmartKit, world: dict[str, Stored], tokens: dict[str, dict[str, str]]
) -> None:
    own = httpx.get(
        f"{kit.server.dicomweb}/studies/{world['B'].study}/metadata", headers=tokens["B"]
    )
    etag = own.headers["etag"]
    r = httpx.get(
        f"{kit.server.dicomweb}/studies/{world['B'].study}/metadata",
        headers={**tokens["A"], "If-None-Match": etag},
    )
    assert r.status_code == 404


def test_patients_cannot_store_or_delete(
    kit: SmartKit, world: dict[str, Stored], tokens: dict[str, dict[str, str]]
) -> None:
    spec = StudySpec(
        PatientSpec("ISO-100", "Alpha^Ann", issuer="HOSP-A"), study_uid=str(generate_uid())
    )
    assert stow_with(kit.server, list(study_files(spec)), tokens["A"]).status_code == 403
    for key in ("A", "B"):
        s = world[key]
        for path in (
            f"/studies/{s.study}",
            f"/studies/{s.study}/series/{s.series}",
            f"/studies/{s.study}/series/{s.series}/instances/{s.instance}",
        ):
            assert httpx.delete(kit.server.dicomweb + path, headers=tokens["A"]).status_code == 403
    r = httpx.get(f"{kit.server.dicomweb}/studies/{world['B'].study}/metadata", headers=tokens["B"])
    assert r.status_code == 200
