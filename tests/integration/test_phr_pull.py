"""Pull: the manifest's shape (what is embedded, what has a location, which key), fetching the
files from their locations on the live server and opening each with the PHR's private key, and
expiry. The manifest is asked of the service with a ``Requester`` here; the same over HTTP with
real SMART tokens (and every refusal) is in test_phr_auth.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from jwcrypto import jwe
from sqlalchemy import update

from app.archive.service import Archive
from app.db import session_scope
from app.demo import study_files
from app.errors import Forbidden, NotFound
from app.fhir.study_bundle import study_collection
from app.phr import PhrService, Requester
from app.phr.models import PullPackage, utcnow
from app.phr.pull import create_manifest
from examples.phr_receiver import keys as keyfile
from examples.phr_receiver.unpack import PackageError, Unpacker
from tests import phr_kit
from tests.conftest import LiveServer, run_server
from tests.imaging import stow
from tests.phr_kit import register

CLIENT = "phr-pull-client"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with run_server(tmp_path_factory.mktemp("phr-pull"), **phr_kit.FAST) as live:
        yield live


@pytest.fixture(scope="module")
def svc(server: LiveServer) -> Iterator[PhrService]:
    archive = Archive.open(server.settings, run_migrations=False)
    yield PhrService(archive.engine, archive.store, server.settings, study_collection)
    archive.close()


@pytest.fixture(scope="module")
def phr(server: LiveServer) -> dict[str, object]:
    keys = keyfile.private_set(keyfile.generate("EC"), keyfile.generate("RSA"))
    body = {"name": "Pull PHR", "jwks": keyfile.public_jwks(keys), "client_id": CLIENT}
    return {"keys": keys, "id": register(server, body)}


@pytest.fixture(scope="module")
def studies(server: LiveServer) -> dict[str, tuple[str, list[bytes]]]:
    out = {}
    for patient in ("PULL-A", "PULL-B"):
        spec = phr_kit.multi_series(patient, f"{patient.title()}^Pat")
        files = list(study_files(spec))
        stow(server, files)
        out[patient] = (spec.study_uid, files)
    return out


def patient(pid: str, client: str | None = CLIENT) -> Requester:
    return Requester(f"account-{pid}", frozenset({(pid, "")}), client)


def fetch_all(manifest: bytes, keys: object, store: Path) -> Path:
    unpacker = Unpacker(store, keys)  # type: ignore[arg-type]
    unpacker.start(json.loads(manifest))
    for i, entry in enumerate(unpacker.manifest["files"]):
        if "embedded" in entry:
            unpacker.add(i, entry["embedded"])
            continue
        r = httpx.get(entry["location"])
        assert r.status_code == 200 and r.headers["content-type"] == "application/jose"
        assert r.headers["cache-control"] == "no-store"
        unpacker.add(i, r.content)
    return unpacker.finish()


def test_pull_multi_series(
    server: LiveServer, svc: PhrService, phr: dict[str, object], studies: dict, tmp_path: Path
) -> None:
    uid, files = studies["PULL-A"]
    manifest = create_manifest(svc, patient("PULL-A"), uid)
    doc = json.loads(manifest)
    embedded = [e for e in doc["files"] if "embedded" in e]
    located = [e for e in doc["files"] if "location" in e]
    assert [e["contentType"] for e in embedded] == ["application/fhir+json", "application/pdf"]
    assert {e["contentType"] for e in located} == {"application/dicom"} and len(located) == 12
    assert all(e["location"].startswith(f"{server.url}/phr/files/") for e in located)
    assert b"PULL-A" not in manifest and uid.encode() not in manifest
    stored = fetch_all(manifest, phr["keys"], tmp_path / "store")
    assert sorted(p.read_bytes() for p in (stored / "dicom").iterdir()) == sorted(files)
    bundle = json.loads((stored / "bundle.json").read_bytes())
    assert bundle["entry"][1]["resource"]["id"] == uid
    # the first usable key of the PHR's set was used (EC before RSA)
    first_kid = keyfile.public_jwks(phr["keys"])["keys"][0]["kid"]  # type: ignore[arg-type]
    assert doc["kid"] == first_kid


def test_only_the_phr_key_opens_pulled_files(
    svc: PhrService, phr: dict[str, object], studies: dict, tmp_path: Path
) -> None:
    uid, _ = studies["PULL-A"]
    doc = json.loads(create_manifest(svc, patient("PULL-A"), uid))
    other = keyfile.private_set(keyfile.generate("EC", kid=doc["kid"]))
    with pytest.raises(PackageError, match="failed decryption"):
        fetch_all(json.dumps(doc).encode(), other, tmp_path / "store")
    token = httpx.get(next(e["location"] for e in doc["files"] if "location" in e)).text
    # two fetches of the same location give different ciphertexts (fresh key and IV)
    again = httpx.get(next(e["location"] for e in doc["files"] if "location" in e)).text
    assert token != again
    obj = jwe.JWE()
    obj.deserialize(token, key=phr["keys"])
    assert obj.payload[128:132] == b"DICM"


def test_another_patients_study_is_not_found(svc: PhrService, studies: dict) -> None:
    uid_b, _ = studies["PULL-B"]
    with pytest.raises(NotFound):
        create_manifest(svc, patient("PULL-A"), uid_b)
    with pytest.raises(NotFound):
        create_manifest(svc, Requester("nobody", frozenset(), CLIENT), uid_b)


def test_only_a_registered_phr_client_can_pull(svc: PhrService, studies: dict) -> None:
    uid, _ = studies["PULL-A"]
    for client in (None, "some-other-app"):
        with pytest.raises(Forbidden, match="not registered as a PHR"):
            create_manifest(svc, patient("PULL-A", client), uid)


def test_locations_expire(server: LiveServer, svc: PhrService, studies: dict) -> None:
    uid, _ = studies["PULL-A"]
    doc = json.loads(create_manifest(svc, patient("PULL-A"), uid))
    location = next(e["location"] for e in doc["files"] if "location" in e)
    assert httpx.get(location).status_code == 200
    with session_scope(svc.engine) as s:
        s.execute(
            update(PullPackage)
            .where(PullPackage.id == doc["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert httpx.get(location).status_code == 404
    assert httpx.get(f"{server.url}/phr/files/not-a-token").status_code == 404
