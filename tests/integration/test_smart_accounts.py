"""Patient accounts (enrol, claim with code + birth date, lockout), the portal's authorised-apps
page with revocation, "open in app" (EHR-style launch with fhirContext) and the audit trail."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import httpx
import pytest
from authlib.common.security import generate_token
from sqlmodel import Session, select

from app.audit import recent
from app.demo import study_files
from smart import accounts
from smart.models import Enrolment, User
from tests import factory
from tests.conftest import LiveServer
from tests.integration.test_smart_flow import stow_with
from tests.smart_kit import REDIRECT, Patient, SmartKit, bearer, hidden, query_of

LAUNCH_SCOPE = "launch launch/imagingstudy openid fhirUser patient/ImagingStudy.rs"


@pytest.fixture(scope="module")
def kit(live_server: LiveServer) -> Iterator[SmartKit]:
    k = SmartKit(live_server)
    yield k
    k.close()


def _claim(b: httpx.Client, code: str, birth: str, username: str, password: str) -> httpx.Response:
    page = b.get("/oauth/claim")
    return b.post(
        "/oauth/claim",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "access_code": code,
            "birth_date": birth,
            "username": username,
            "password": password,
            "password2": password,
        },
    )


def test_claim_in_the_browser(kit: SmartKit) -> None:
    enrolled = accounts.enrol(kit.engine, "ACC-1", "HOSP", "1966-06-16")
    with kit.browser() as b:
        wrong = _claim(b, enrolled.access_code, "1966-06-17", "eve66", "long enough pw")
        assert wrong.status_code == 400 and "do not match" in wrong.text
        r = _claim(
            b,
            enrolled.access_code.lower().replace("-", " "),
            "1966-06-16",
            "eve66",
            "long enough pw",
        )
        assert r.status_code == 303 and r.headers["location"] == "/portal/apps"
        page = b.get("/portal/apps")
        assert page.status_code == 200 and "eve66" in page.text
        assert "X-Frame-Options" in page.headers or "x-frame-options" in page.headers
    with kit.browser() as b:
        again = _claim(b, enrolled.access_code, "1966-06-16", "eve67", "long enough pw")
        assert again.status_code == 400
    with Session(kit.engine) as s:
        row = s.exec(select(Enrolment).where(Enrolment.user_id == enrolled.user_id)).one()
        user = s.get(User, enrolled.user_id)
        assert user is not None
    secret = enrolled.access_code.replace("-", "")[8:]
    assert row.secret_hash.startswith("$argon2id$") and secret not in row.secret_hash
    assert user.password_hash and user.password_hash.startswith("$argon2id$")


def test_code_locks_after_repeated_wrong_birth_dates(kit: SmartKit) -> None:
    enrolled = accounts.enrol(kit.engine, "ACC-2", "", "1950-01-01")
    with kit.browser() as b:
        for _ in range(accounts.MAX_CLAIM_ATTEMPTS):
            assert (
                _claim(
                    b, enrolled.access_code, "1950-01-02", "fred50", "long enough pw"
                ).status_code
                == 400
            )
        r = _claim(b, enrolled.access_code, "1950-01-01", "fred50", "long enough pw")
        assert r.status_code == 400 and "locked" in r.text


def test_claim_refuses_weak_input(kit: SmartKit) -> None:
    enrolled = accounts.enrol(kit.engine, "ACC-3", "", "1950-01-01")
    with kit.browser() as b:
        assert _claim(b, enrolled.access_code, "1950-01-01", "gus", "short").status_code == 400
        assert _claim(b, "NOT-A-CODE", "1950-01-01", "gus1", "long enough pw").status_code == 400
        assert (
            _claim(b, enrolled.access_code, "01/01/1950", "gus1", "long enough pw").status_code
            == 400
        )


@contextlib.contextmanager
def _signed_in(kit: SmartKit, who: Patient) -> Iterator[httpx.Client]:
    with kit.browser() as b:
        _sign_in(b, who)
        yield b


def _sign_in(b: httpx.Client, who: Patient) -> None:
    page = b.get("/oauth/signin?next=/portal/apps")
    r = b.post(
        "/oauth/signin",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "next": "/portal/apps",
            "username": who.username,
            "password": who.password,
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/portal/apps"


def test_portal_lists_and_revokes_apps(kit: SmartKit) -> None:
    who = kit.patient("ACC-4", "1980-08-08")
    client_id = kit.public_client()
    token = kit.authorize(client_id, who)
    assert httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(token)).status_code in (
        200,
        204,
    )
    assert httpx.get(f"{kit.server.url}/portal/apps", follow_redirects=False).status_code == 303
    with _signed_in(kit, who) as b:
        page = b.get("/portal/apps")
        assert "Test app" in page.text
        grant_id = re.search(r"/portal/apps/([0-9a-f]+)/revoke", page.text).group(1)  # type: ignore[union-attr]
        assert b.post(f"/portal/apps/{grant_id}/revoke", data={}).status_code == 403  # no CSRF
        r = b.post(
            f"/portal/apps/{grant_id}/revoke", data={"csrf_token": hidden(page.text, "csrf_token")}
        )
        assert r.status_code == 303
        assert "Test app" not in b.get("/portal/apps").text
    assert httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(token)).status_code == 401
    refresh = httpx.post(
        kit.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": client_id,
        },
    )
    assert refresh.status_code == 400
    actions = {e.action for e in recent(kit.engine, limit=500)}
    assert {"grant.create", "token.issue", "grant.revoke", "signin", "account.claim"} <= actions
    for event in recent(kit.engine, limit=500):
        for secret in (token["access_token"], token["refresh_token"], who.password, "ACC-4"):
            assert secret not in event.detail and secret not in event.entity


def test_another_patients_grant_cannot_be_revoked(kit: SmartKit) -> None:
    owner = kit.patient("ACC-5", "1980-08-08")
    kit.authorize(kit.public_client(), owner)
    with _signed_in(kit, owner) as b:
        grant_id = re.search(r"/portal/apps/([0-9a-f]+)/revoke", b.get("/portal/apps").text).group(
            1
        )  # type: ignore[union-attr]
    with _signed_in(kit, kit.patient("ACC-6", "1980-08-08")) as b:
        csrf = hidden(b.get("/portal/apps").text, "csrf_token")
        assert (
            b.post(f"/portal/apps/{grant_id}/revoke", data={"csrf_token": csrf}).status_code == 404
        )


def test_open_in_app_is_an_ehr_launch_with_fhir_context(kit: SmartKit) -> None:
    site = bearer(
        kit.backend_token(kit.backend("system/ImagingStudy.cruds"), "system/ImagingStudy.cruds")
    )
    mine, theirs = factory.study("ACC-7", "Open^App"), factory.study("ACC-8", "Other^One")
    for spec in (mine, theirs):
        assert stow_with(kit.server, list(study_files(spec)), site).status_code == 200
    who = kit.patient("ACC-7", "1970-01-01")
    client_id = kit.public_client(LAUNCH_SCOPE, launch_uri="https://viewer.example/launch")
    with _signed_in(kit, who) as b:
        page = b.get("/portal/apps")
        assert mine.study_uid in page.text and theirs.study_uid not in page.text
        csrf = hidden(page.text, "csrf_token")
        other = b.post(
            "/portal/launch",
            data={"csrf_token": csrf, "study": theirs.study_uid, "client_id": client_id},
        )
        assert other.status_code == 404
        r = b.post(
            "/portal/launch",
            data={"csrf_token": csrf, "study": mine.study_uid, "client_id": client_id},
        )
        assert r.status_code == 303
        launched = query_of(r.headers["location"])
        assert r.headers["location"].startswith("https://viewer.example/launch?")
        assert launched["iss"] == kit.server.fhir
        oauth = kit.oauth_client(client_id, scope=LAUNCH_SCOPE)
        verifier = generate_token(48)
        url, state = oauth.create_authorization_url(
            kit.authorize_url,
            code_verifier=verifier,
            aud=launched["iss"],
            launch=launched["launch"],
        )
        done = kit.consent(b, kit.sign_in(b, url, who))
    token = oauth.fetch_token(
        kit.token_url,
        authorization_response=done.headers["location"],
        code_verifier=verifier,
        state=state,
    )
    assert token["fhirContext"] == [{"reference": f"ImagingStudy/{mine.study_uid}"}]
    assert token["patient"] and token["need_patient_banner"] is False
    wado = httpx.get(
        f"{kit.server.dicomweb}/studies/{mine.study_uid}/metadata", headers=bearer(token)
    )
    assert wado.status_code == 200


def test_a_launch_is_only_for_its_patient(kit: SmartKit) -> None:
    site = bearer(
        kit.backend_token(kit.backend("system/ImagingStudy.cruds"), "system/ImagingStudy.cruds")
    )
    spec = factory.study("ACC-9", "Launch^Owner")
    assert stow_with(kit.server, list(study_files(spec)), site).status_code == 200
    owner, intruder = kit.patient("ACC-9", "1970-01-01"), kit.patient("ACC-10", "1970-01-01")
    client_id = kit.public_client(LAUNCH_SCOPE, launch_uri="https://viewer.example/launch")
    with _signed_in(kit, owner) as b:
        csrf = hidden(b.get("/portal/apps").text, "csrf_token")
        r = b.post(
            "/portal/launch",
            data={"csrf_token": csrf, "study": spec.study_uid, "client_id": client_id},
        )
        launch_value = query_of(r.headers["location"])["launch"]
    oauth = kit.oauth_client(client_id, scope=LAUNCH_SCOPE)
    url, _ = oauth.create_authorization_url(
        kit.authorize_url,
        code_verifier=generate_token(48),
        aud=kit.server.fhir,
        launch=launch_value,
    )
    with kit.browser() as b:
        page = kit.sign_in(b, url, intruder)
        done = kit.consent(b, page)
        assert done.status_code == 400 and "location" not in done.headers
    assert REDIRECT
