"""What the authorization server must refuse: wrong redirect URI, missing or wrong PKCE, wrong
``aud``, reused codes, expired and revoked tokens, missing CSRF tokens, a request completed from
another browser, repeated wrong passwords."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from authlib.common.security import generate_token
from sqlalchemy import update

from app.audit import recent
from smart.models import Token
from tests.conftest import LiveServer
from tests.smart_kit import PATIENT_SCOPE, REDIRECT, Patient, SmartKit, bearer, hidden, query_of


@pytest.fixture(scope="module")
def kit(live_server: LiveServer) -> Iterator[SmartKit]:
    k = SmartKit(live_server)
    yield k
    k.close()


@pytest.fixture(scope="module")
def bob(kit: SmartKit) -> Patient:
    return kit.patient("NEG-1", "1981-02-03")


@pytest.fixture(scope="module")
def app_id(kit: SmartKit) -> str:
    return kit.public_client(PATIENT_SCOPE + " launch")


def _authorize_url(kit: SmartKit, client_id: str, **overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": PATIENT_SCOPE,
        "state": "s-123",
        "aud": kit.server.fhir,
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    query = httpx.QueryParams({k: v for k, v in params.items() if v is not None})
    return f"{kit.authorize_url}?{query}"


def test_wrong_redirect_uri_is_never_redirected_to(kit: SmartKit, app_id: str) -> None:
    r = httpx.get(_authorize_url(kit, app_id, redirect_uri="https://evil.example/cb"))
    assert r.status_code == 400
    assert "location" not in r.headers
    assert "text/html" in r.headers["content-type"]
    # a prefix of a registered URI is not a match either (exact comparison)
    r = httpx.get(_authorize_url(kit, app_id, redirect_uri=REDIRECT + "/x"))
    assert r.status_code == 400 and "location" not in r.headers


def test_unknown_client_is_an_error_page(kit: SmartKit) -> None:
    r = httpx.get(_authorize_url(kit, "no-such-client"))
    assert r.status_code == 400 and "location" not in r.headers


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"aud": "https://other.example/fhir"}, "invalid_request"),
        ({"aud": None}, "invalid_request"),
        ({"scope": "patient/ImagingStudy.sr"}, "invalid_scope"),
        ({"scope": "launch", "launch": "forged"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_bad_authorization_requests_go_back_with_an_error(
    kit: SmartKit, app_id: str, override: dict[str, str | None], error: str
) -> None:
    r = httpx.get(_authorize_url(kit, app_id, **override))
    assert r.status_code == 302, r.text
    back = query_of(r.headers["location"])
    assert r.headers["location"].startswith(REDIRECT)
    assert back["error"] == error
    assert back["state"] == "s-123"


def _code(kit: SmartKit, client_id: str, who: Patient, verifier: str) -> str:
    oauth = kit.oauth_client(client_id, scope=PATIENT_SCOPE)
    url, _ = oauth.create_authorization_url(
        kit.authorize_url, code_verifier=verifier, aud=kit.server.fhir
    )
    with kit.browser() as b:
        done = kit.consent(b, kit.sign_in(b, url, who))
    return query_of(done.headers["location"])["code"]


def _exchange(
    kit: SmartKit, client_id: str, code: str, verifier: str | None, **extra: str
) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": client_id,
    }
    if verifier is not None:
        data["code_verifier"] = verifier
    data.update(extra)
    return httpx.post(kit.token_url, data=data)


def test_missing_and_wrong_pkce_verifier(kit: SmartKit, app_id: str, bob: Patient) -> None:
    verifier = generate_token(48)
    code = _code(kit, app_id, bob, verifier)
    missing = _exchange(kit, app_id, code, None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    wrong = _exchange(kit, app_id, _code(kit, app_id, bob, verifier), generate_token(48))
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


def test_token_request_with_other_redirect_uri(kit: SmartKit, app_id: str, bob: Patient) -> None:
    verifier = generate_token(48)
    r = _exchange(
        kit, app_id, _code(kit, app_id, bob, verifier), verifier, redirect_uri=REDIRECT + "x"
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_code_of_another_client(kit: SmartKit, app_id: str, bob: Patient) -> None:
    verifier = generate_token(48)
    code = _code(kit, app_id, bob, verifier)
    r = _exchange(kit, kit.public_client(), code, verifier)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_reused_code_fails_and_revokes_the_first_token(
    kit: SmartKit, app_id: str, bob: Patient
) -> None:
    verifier = generate_token(48)
    code = _code(kit, app_id, bob, verifier)
    first = _exchange(kit, app_id, code, verifier)
    assert first.status_code == 200
    again = _exchange(kit, app_id, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    r = httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(first.json()))
    assert r.status_code == 401


def test_no_token_and_bad_tokens_on_dicomweb(kit: SmartKit) -> None:
    r = httpx.get(f"{kit.server.dicomweb}/studies")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="imageshare"'
    r = httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer("not-a-token"))
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    r = httpx.get(f"{kit.server.dicomweb}/studies", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert r.status_code == 401


def test_expired_token(kit: SmartKit, app_id: str, bob: Patient) -> None:
    token = kit.authorize(app_id, bob)
    assert httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(token)).status_code in (
        200,
        204,
    )
    from smart.hashing import sha256

    with kit.engine.begin() as conn:
        conn.execute(
            update(Token)
            .where(Token.access_hash == sha256(token["access_token"]))
            .values(issued_at=int(time.time()) - 7200)
        )
    r = httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(token))
    assert r.status_code == 401
    assert "expired" in r.headers["www-authenticate"]


def test_revoked_token(kit: SmartKit, app_id: str, bob: Patient) -> None:
    token = kit.authorize(app_id, bob)
    r = httpx.post(
        f"{kit.server.url}/oauth/revoke", data={"token": token["access_token"], "client_id": app_id}
    )
    assert r.status_code == 200
    assert httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(token)).status_code == 401
    refresh = httpx.post(
        kit.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": app_id,
        },
    )
    assert refresh.status_code == 400
    # revoking an unknown token is not an error (RFC 7009 §2.2)
    r = httpx.post(f"{kit.server.url}/oauth/revoke", data={"token": "unknown", "client_id": app_id})
    assert r.status_code == 200


def test_csrf_token_required(kit: SmartKit, app_id: str, bob: Patient) -> None:
    with kit.browser() as b:
        page = kit.sign_in(b, _authorize_url(kit, app_id), bob)
        pending = hidden(page.text, "request")
        r = b.post(
            "/oauth/consent", data={"request": pending, "decision": "allow", "scope": ["openid"]}
        )
        assert r.status_code == 403 and "location" not in r.headers
        r = b.post(
            "/oauth/consent", data={"csrf_token": "forged", "request": pending, "decision": "allow"}
        )
        assert r.status_code == 403
    with kit.browser() as b:
        b.get("/oauth/signin")
        r = b.post("/oauth/signin", data={"username": bob.username, "password": bob.password})
        assert r.status_code == 403


def test_pending_request_is_bound_to_its_browser(kit: SmartKit, app_id: str, bob: Patient) -> None:
    with kit.browser() as victim:
        r = victim.get(_authorize_url(kit, app_id))
        stolen = r.headers["location"]
    with kit.browser() as attacker:
        page = kit.sign_in(attacker, _authorize_url(kit, app_id), bob)
        r = attacker.get(stolen.replace("/oauth/signin", "/oauth/consent"))
        assert r.status_code == 400
        r = attacker.post(
            "/oauth/consent",
            data={
                "csrf_token": hidden(page.text, "csrf_token"),
                "request": query_of(stolen)["request"],
                "decision": "allow",
                "scope": ["openid"],
            },
        )
        assert r.status_code == 400 and "location" not in r.headers


def test_lockout_after_repeated_failures(kit: SmartKit) -> None:
    carol = kit.patient("NEG-LOCK", "1990-09-09")
    with kit.browser() as b:
        page = b.get("/oauth/signin")
        csrf = hidden(page.text, "csrf_token")
        for _ in range(5):
            r = b.post(
                "/oauth/signin",
                data={"csrf_token": csrf, "username": carol.username, "password": "wrong-password"},
            )
            assert r.status_code == 400
        r = b.post(
            "/oauth/signin",
            data={"csrf_token": csrf, "username": carol.username, "password": carol.password},
        )
        assert r.status_code == 400
        assert "locked" in r.text
    events = recent(kit.engine, action="signin", entity=carol.user_id)
    assert any(e.detail == "locked out" for e in events)
    assert all(carol.password not in e.detail for e in events)


def test_unsupported_grant_type(kit: SmartKit, app_id: str) -> None:
    r = httpx.post(
        kit.token_url,
        data={"grant_type": "password", "username": "x", "password": "y", "client_id": app_id},
    )
    assert r.status_code == 400
    assert r.json()["error"] in ("unsupported_grant_type", "unauthorized_client")


def test_refusals_are_audited_and_purge_keeps_live_rows(
    kit: SmartKit, app_id: str, bob: Patient
) -> None:
    httpx.post(
        kit.token_url,
        data={"grant_type": "authorization_code", "code": "nope", "client_id": app_id},
    )
    refusals = recent(kit.engine, action="oauth.refuse")
    assert refusals and refusals[0].outcome == "failure" and "invalid_grant" in refusals[0].detail
    from smart.maintenance import purge_expired

    token = kit.authorize(app_id, bob)
    purge_expired(kit.engine)
    assert httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(token)).status_code in (
        200,
        204,
    )


def test_token_for_another_audience_is_refused(kit: SmartKit, app_id: str, bob: Patient) -> None:
    from smart.tokens import TokenRejected, verify

    token = kit.authorize(app_id, bob)
    assert verify(kit.engine, token["access_token"], kit.server.fhir).patient == token["patient"]
    with pytest.raises(TokenRejected):
        verify(kit.engine, token["access_token"], "https://other.example/fhir")


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/oauth/signout", {}),
        ("/oauth/claim", {"access_code": "X", "birth_date": "1970-01-01", "username": "u"}),
        ("/portal/apps/any-grant/revoke", {}),
        ("/portal/launch", {"client_id": "demo-viewer", "study": "1.2.3"}),
        ("/portal/phr/send", {"study": "1.2.3", "recipient": "x"}),
    ],
)
def test_every_signed_in_form_refuses_a_missing_or_forged_csrf_token(
    kit: SmartKit, app_id: str, bob: Patient, path: str, data: dict[str, str]
) -> None:
    """The shared ``checked_form`` guard, on each form that changes state for a signed-in user."""
    with kit.browser() as b:
        kit.sign_in(b, _authorize_url(kit, app_id), bob)
        assert b.post(path, data=data).status_code == 403
        assert b.post(path, data={**data, "csrf_token": "forged"}).status_code == 403
