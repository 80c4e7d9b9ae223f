"""Cross-patient leak matrix over every DICOMweb endpoint: patient A's token tries patient B's
data by UID (study, series, instance, metadata, bulk data) and by search (QIDO at every level
and path, by identity, name, UID); the count of leaks must be 0, while A still sees A's own.

B shares A's Patient ID under another issuer, so identity means Patient ID + Issuer.
"""

from __future__ import annotations

import io
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


@dataclass
class Stored:
    patient_id: str
    issuer: str
    name: str
    study: str
    series: str
    instance: str


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
    )
    files = list(study_files(spec))
    assert stow_with(kit.server, files, site).status_code == 200
    ds = pydicom.dcmread(io.BytesIO(files[0]))
    return Stored(pid, issuer, name, spec.study_uid, ds.SeriesInstanceUID, ds.SOPInstanceUID)


@pytest.fixture(scope="module")
def world(kit: SmartKit) -> dict[str, Stored]:
    scope = "system/ImagingStudy.cruds"
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
        out[key] = bearer(kit.authorize(kit.public_client(), who))
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
    return any(uid.encode() in body for uid in (victim.study, victim.series, victim.instance))


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
    assert probes == 2 * (8 + 16)
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
