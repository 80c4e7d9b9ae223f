"""One patient cannot send or see another patient's studies or deliveries: everything outside
the requester's identities is "not found", exactly like a UID that does not exist. Service level
(identities include the issuer); the HTTP routes with real tokens are in test_phr_auth.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.archive.service import Archive
from app.demo import study_files
from app.errors import NotFound
from app.fhir.study_bundle import study_collection
from app.phr import PhrService, Requester, service
from examples.phr_receiver import keys as keyfile
from tests import phr_kit
from tests.conftest import LiveServer, run_server
from tests.imaging import stow
from tests.phr_kit import register

CLIENT = "isolation-phr-client"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = {**phr_kit.FAST, "phr_worker": False}  # deliveries stay queued: no receiver here
    with run_server(tmp_path_factory.mktemp("phr-isolation"), **settings) as live:
        yield live


@pytest.fixture(scope="module")
def svc(server: LiveServer) -> Iterator[PhrService]:
    archive = Archive.open(server.settings, run_migrations=False)
    yield PhrService(archive.engine, archive.store, server.settings, study_collection)
    archive.close()


def patient(pid: str) -> Requester:
    return Requester(f"account-{pid}", frozenset({(pid, "")}), CLIENT)


def test_patients_only_reach_their_own(server: LiveServer, svc: PhrService) -> None:
    uids = {}
    for pid in ("ISO-A", "ISO-B"):
        spec = phr_kit.multi_series(pid, f"{pid}^Patient")
        stow(server, list(study_files(spec)))
        uids[pid] = spec.study_uid
    keys = keyfile.public_jwks(keyfile.private_set(keyfile.generate()))
    recipient = register(
        server,
        {"name": "PHR", "jwks": keys, "endpoint": "https://phr.example/in", "client_id": CLIENT},
    )
    a, b = patient("ISO-A"), patient("ISO-B")

    mine = service.request_delivery(svc, a, uids["ISO-A"], recipient)
    with pytest.raises(NotFound):  # B's study, asked for by A
        service.request_delivery(svc, a, uids["ISO-B"], recipient)
    with pytest.raises(NotFound):  # a patient with no identity at all
        service.request_delivery(svc, Requester("x", frozenset(), None), uids["ISO-A"], recipient)
    theirs = service.request_delivery(svc, b, uids["ISO-B"], recipient)

    assert [d["id"] for d in service.deliveries(svc, a)] == [mine.id]
    assert [d["id"] for d in service.deliveries(svc, b)] == [theirs.id]
    assert service.delivery(svc, a, mine.id)["state"] == "queued"
    with pytest.raises(NotFound):
        service.delivery(svc, a, theirs.id)
    admin = Requester("admin", None)
    assert {d["id"] for d in service.deliveries(svc, admin)} == {mine.id, theirs.id}
    # the issuer is part of the identity: same Patient ID under another issuer is someone else
    other_issuer = Requester("y", frozenset({("ISO-A", "OTHER-HOSPITAL")}), CLIENT)
    with pytest.raises(NotFound):
        service.request_delivery(svc, other_issuer, uids["ISO-A"], recipient)
    assert service.deliveries(svc, other_issuer) == []
