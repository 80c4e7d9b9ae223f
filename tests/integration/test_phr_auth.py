"""PHR delivery with authorization on: real SMART tokens from the live server's authorization
server (authlib client, PKCE), the example PHR pulling with a patient's token and receiving
pushes the patient asked for. Another patient's study is 404 everywhere; a PHR without a
patient's authorisation gets nothing; every step is in the audit trail."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydicom.uid import generate_uid

from app import audit
from app.db import make_engine
from app.demo import PatientSpec, SeriesSpec, StudySpec, study_files
from examples.phr_receiver import keys as keyfile
from examples.phr_receiver.pull import pull_study
from smart import apps
from tests import phr_kit
from tests.conftest import LiveServer
from tests.integration.test_smart_flow import stow_with
from tests.phr_kit import Receiver, final, make_receiver, serve
from tests.smart_kit import PATIENT_SCOPE, Patient, SmartKit, bearer, hidden

SERVER_SETTINGS = {k: v for k, v in phr_kit.FAST.items() if k != "auth"}


@pytest.fixture(scope="module")
def kit(live_server: LiveServer) -> Iterator[SmartKit]:
    k = SmartKit(live_server)
    yield k
    k.close()


@pytest.fixture(scope="module")
def admin(kit: SmartKit) -> dict[str, str]:
    scope = "system/*.cruds"
    return bearer(kit.backend_token(kit.backend(scope, admin=True), scope))


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    r = make_receiver(tmp_path_factory.mktemp("phr-store"))
    with serve(r.gate) as r.url:
        yield r


@pytest.fixture(scope="module")
def world(kit: SmartKit, admin: dict[str, str], receiver: Receiver) -> dict[str, object]:
    """Two patients with a study each, the PHR's SMART client, and its registration."""
    studies = {}
    for pid in ("AUTH-A", "AUTH-B", "AUTH-C"):
        spec = StudySpec(
            PatientSpec(pid, f"{pid}^Person", "19700101", "O"),
            [SeriesSpec("CT", 3, 32, 32), SeriesSpec("MR", 2, 256, 256)],
            study_uid=str(generate_uid()),
            with_pdf_report=True,
        )
        files = list(study_files(spec))
        assert stow_with(kit.server, files, admin).status_code == 200
        studies[pid] = (spec.study_uid, files)
    client_id = kit.public_client()
    body = {
        "name": "Example PHR",
        "jwks_uri": f"{receiver.url}/.well-known/jwks.json",
        "endpoint": f"{receiver.url}/deliveries",
        "client_id": client_id,
    }
    r = httpx.post(f"{kit.server.url}/phr/recipients", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return {"studies": studies, "client": client_id, "recipient": r.json()["id"]}


@pytest.fixture(scope="module")
def alice(kit: SmartKit, world: dict[str, object]) -> tuple[Patient, dict[str, str]]:
    who = kit.patient("AUTH-A")
    return who, bearer(kit.authorize(str(world["client"]), who, PATIENT_SCOPE))


def test_pull_with_the_patients_token(
    kit: SmartKit,
    world: dict,
    alice: tuple[Patient, dict[str, str]],
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    uid, files = world["studies"]["AUTH-A"]
    token = alice[1]["Authorization"].removeprefix("Bearer ")
    stored = pull_study(kit.server.url, token, uid, receiver.config.keys, tmp_path)
    assert sorted(p.read_bytes() for p in (stored / "dicom").iterdir()) == sorted(files)
    events = audit.recent(kit.engine, action="phr.pull")
    assert events and events[0].entity == stored.name and events[0].outcome == "success"
    assert "AUTH-A" not in events[0].agent + events[0].detail


def test_pull_refusals(
    kit: SmartKit, world: dict, admin: dict[str, str], alice: tuple[Patient, dict[str, str]]
) -> None:
    uid_a, _ = world["studies"]["AUTH-A"]
    uid_b, _ = world["studies"]["AUTH-B"]
    url = f"{kit.server.url}/phr/studies/{{}}/manifest"
    # another patient's study with Alice's token: not found, like a UID that does not exist
    assert httpx.post(url.format(uid_b), headers=alice[1]).status_code == 404
    assert httpx.post(url.format("1.2.3.4"), headers=alice[1]).status_code == 404
    # no token; an administrator; Alice's token issued to an app that is not a registered PHR
    assert httpx.post(url.format(uid_a)).status_code == 401
    assert httpx.post(url.format(uid_a), headers=admin).status_code == 403
    other_app = bearer(kit.authorize(kit.public_client(), alice[0], PATIENT_SCOPE))
    refused = httpx.post(url.format(uid_a), headers=other_app)
    assert refused.status_code == 403 and "not registered as a PHR" in refused.text
    # a token without ImagingStudy read scope
    narrow = "launch/patient openid fhirUser patient/Patient.rs"
    client = kit.public_client(narrow)
    scoped = httpx.post(url.format(uid_a), headers=bearer(kit.authorize(client, alice[0], narrow)))
    assert scoped.status_code == 403


def test_a_phr_without_the_patients_authorisation_gets_nothing(kit: SmartKit, world: dict) -> None:
    """Bob never authorised the PHR: it has no token for him (and Alice's token does not reach
    his study, see above). Once Carol revokes her grant, the PHR's token for her stops working
    on the next request."""
    uid_c, _ = world["studies"]["AUTH-C"]
    carol = kit.patient("AUTH-C")
    token = bearer(kit.authorize(str(world["client"]), carol, PATIENT_SCOPE))
    url = f"{kit.server.url}/phr/studies/{uid_c}/manifest"
    assert httpx.post(url, headers=token).status_code == 200
    [grant] = [
        g for g in apps.authorised(kit.engine, carol.user_id) if g.client_id == world["client"]
    ]
    apps.revoke(kit.engine, carol.user_id, grant.grant_id)
    assert httpx.post(url, headers=token).status_code == 401


def test_push_by_the_patient(
    kit: SmartKit,
    world: dict,
    admin: dict[str, str],
    alice: tuple[Patient, dict[str, str]],
    receiver: Receiver,
) -> None:
    uid_a, files = world["studies"]["AUTH-A"]
    uid_b, _ = world["studies"]["AUTH-B"]
    url = f"{kit.server.url}/phr/deliveries"
    body = {"study": uid_a, "recipient": world["recipient"]}
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers=admin).status_code == 403  # the patient decides
    other = {"study": uid_b, "recipient": world["recipient"]}
    assert httpx.post(url, json=other, headers=alice[1]).status_code == 404
    r = httpx.post(url, json=body, headers=alice[1])
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    view = phr_kit.wait_until(kit.server, job, final, headers=alice[1])
    assert view["state"] == "delivered", view
    assert receiver.dicom(job) == sorted(files)
    listed = httpx.get(url, headers=alice[1]).json()
    assert [d["id"] for d in listed] == [job]
    bob = kit.patient("AUTH-B")
    bob_token = bearer(kit.authorize(kit.public_client(), bob, PATIENT_SCOPE))
    assert httpx.get(url, headers=bob_token).json() == []
    assert httpx.get(f"{url}/{job}", headers=bob_token).status_code == 404
    assert httpx.get(f"{url}/{job}", headers=admin).json()["state"] == "delivered"
    site_scope = "system/*.rs"
    site = bearer(kit.backend_token(kit.backend(site_scope), site_scope))
    assert httpx.get(url, headers=site).status_code == 403
    actions = {(e.action, e.outcome) for e in audit.recent(kit.engine, entity=job)}
    assert {
        ("phr.delivery.request", "success"),
        ("phr.delivery.attempt", "success"),
        ("phr.delivery", "success"),
    } <= actions


def test_recipients_are_managed_by_administrators(
    kit: SmartKit, world: dict, admin: dict[str, str], alice: tuple[Patient, dict[str, str]]
) -> None:
    url = f"{kit.server.url}/phr/recipients"
    keys = keyfile.public_jwks(keyfile.private_set(keyfile.generate()))
    assert httpx.post(url, json={"name": "x", "jwks": keys}).status_code == 401
    assert httpx.post(url, json={"name": "x", "jwks": keys}, headers=alice[1]).status_code == 403
    seen = httpx.get(url, headers=alice[1]).json()
    assert {"id": world["recipient"], "name": "Example PHR", "push": True} in seen
    assert all(set(r) == {"id", "name", "push"} for r in seen)
    full = httpx.get(f"{url}/{world['recipient']}", headers=admin).json()
    assert full["client_id"] == world["client"]
    assert httpx.get(f"{url}/{world['recipient']}", headers=alice[1]).status_code == 403
    engine = make_engine(kit.server.settings.effective_database_url)
    assert audit.recent(engine, action="phr.recipient.register")
    engine.dispose()


def test_portal_send_to_my_phr(kit: SmartKit, world: dict, receiver: Receiver) -> None:
    uid_b, files = world["studies"]["AUTH-B"]
    uid_a, _ = world["studies"]["AUTH-A"]
    bob = kit.patient("AUTH-B")
    with kit.browser() as browser:
        kit.sign_in(browser, "/portal/phr", bob)  # lands on /portal/apps (the kit posts no next)
        page = browser.get("/portal/phr")
        assert page.status_code == 200
        assert "Send a study" in page.text and uid_b in page.text and uid_a not in page.text
        assert world["recipient"] in page.text and "Nothing sent yet" in page.text
        csrf = hidden(page.text, "csrf_token")
        form = {"csrf_token": csrf, "study": uid_b, "recipient": world["recipient"]}
        assert browser.post("/portal/phr/send", data={**form, "csrf_token": "x"}).status_code == 403
        assert browser.post("/portal/phr/send", data={**form, "study": uid_a}).status_code == 404
        sent = browser.post("/portal/phr/send", data=form)
        assert sent.status_code == 303 and sent.headers["location"] == "/portal/phr?notice=queued"
        deadline = time.monotonic() + 30
        while "delivered" not in (page := browser.get("/portal/phr")).text:
            assert time.monotonic() < deadline, page.text
            time.sleep(0.1)
    job = next(p for p in receiver.packages() if receiver.dicom(p) == sorted(files))
    assert job in [
        d["id"]
        for d in httpx.get(
            f"{kit.server.url}/phr/deliveries",
            headers=bearer(kit.authorize(kit.public_client(), bob, PATIENT_SCOPE)),
        ).json()
    ]
    with httpx.Client(base_url=kit.server.url) as anonymous:
        assert anonymous.get("/portal/phr").status_code == 303
