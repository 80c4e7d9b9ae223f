"""SMART Backend Services: client_credentials with private_key_jwt (RS384 and ES384, JWKS
inline or by URL), the assertion checks (alg, kid, jku, exp, jti replay, signature), system
scopes on DICOMweb, and administrator-only DELETE."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest

from app.demo import study_files
from tests import factory
from tests.conftest import LiveServer, free_port
from tests.integration.test_smart_flow import stow_with
from tests.smart_kit import Backend, SmartKit, bearer, new_key

SCOPE = "system/ImagingStudy.rs"


@pytest.fixture(scope="module")
def kit(live_server: LiveServer) -> Iterator[SmartKit]:
    k = SmartKit(live_server)
    yield k
    k.close()


@pytest.fixture(scope="module")
def rs(kit: SmartKit) -> Backend:
    return kit.backend(SCOPE)


def _error(r: httpx.Response) -> str:
    assert r.status_code in (400, 401), r.text
    assert r.headers["cache-control"] == "no-store"
    return str(r.json()["error"])


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_backend_token(kit: SmartKit, alg: str) -> None:
    bc = kit.backend(SCOPE, alg=alg)
    token = kit.backend_token(bc, SCOPE)
    assert token["token_type"] == "Bearer"
    assert 0 < token["expires_in"] <= 300
    assert "refresh_token" not in token
    assert token["scope"] == SCOPE
    assert "patient" not in token


def test_scope_is_narrowed_to_what_the_client_may_have(kit: SmartKit, rs: Backend) -> None:
    r = kit.client_credentials(kit.raw_assertion(rs), f"{SCOPE} system/*.cruds")
    assert r.status_code == 200
    assert r.json()["scope"] == SCOPE
    assert (
        _error(kit.client_credentials(kit.raw_assertion(rs), "system/Patient.rs"))
        == "invalid_scope"
    )


def test_alg_none_is_refused(kit: SmartKit, rs: Backend) -> None:
    good = kit.raw_assertion(rs)
    _head, body, _sig = good.split(".")
    import base64

    none_head = base64.urlsafe_b64encode(
        json.dumps({"alg": "none", "kid": rs.kid, "typ": "JWT"}).encode()
    ).rstrip(b"=")
    assert (
        _error(kit.client_credentials(f"{none_head.decode()}.{body}.", SCOPE)) == "invalid_client"
    )


def test_wrong_key_is_refused(kit: SmartKit, rs: Backend) -> None:
    other = new_key("RS384")
    forged = Backend(rs.client_id, other, "RS384")
    # signed by another key but claiming the registered kid
    from joserfc import jwt

    now = int(time.time())
    claims = {
        "iss": rs.client_id,
        "sub": rs.client_id,
        "aud": kit.token_url,
        "exp": now + 200,
        "jti": "x1",
    }
    token = jwt.encode({"alg": "RS384", "kid": rs.kid}, claims, other, algorithms=["RS384"])
    assert _error(kit.client_credentials(token, SCOPE)) == "invalid_client"
    assert _error(kit.client_credentials(kit.raw_assertion(forged), SCOPE)) == "invalid_client"


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_hmac_with_the_public_key_is_refused(kit: SmartKit, rs: Backend) -> None:
    """The classic key-confusion attack: HS256 keyed with the client's public key."""
    import hashlib
    import hmac

    now = int(time.time())
    claims = {
        "iss": rs.client_id,
        "sub": rs.client_id,
        "aud": kit.token_url,
        "exp": now + 200,
        "jti": "h1",
    }
    signing_input = (
        _b64(json.dumps({"alg": "HS256", "kid": rs.kid}).encode())
        + "."
        + _b64(json.dumps(claims).encode())
    )
    secret = rs.key.as_pem(private=False)
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    assert _error(kit.client_credentials(f"{signing_input}.{_b64(sig)}", SCOPE)) == "invalid_client"


def test_rs256_is_not_accepted(kit: SmartKit) -> None:
    bc = kit.backend(SCOPE, alg="RS256")
    assert _error(kit.client_credentials(kit.raw_assertion(bc), SCOPE)) == "invalid_client"


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://elsewhere.example/token"},
        {"exp": int(time.time()) - 120},
        {"exp": int(time.time()) + 3600},
        {"iss": "someone-else"},
        {"jti": None},
    ],
)
def test_bad_claims_are_refused(kit: SmartKit, rs: Backend, claims: dict[str, Any]) -> None:
    assertion = kit.raw_assertion(rs, **claims)
    if claims.get("jti", "") is None:
        from joserfc import jwt

        now = int(time.time())
        body = {"iss": rs.client_id, "sub": rs.client_id, "aud": kit.token_url, "exp": now + 200}
        assertion = jwt.encode({"alg": "RS384", "kid": rs.kid}, body, rs.key, algorithms=["RS384"])
    assert _error(kit.client_credentials(assertion, SCOPE)) == "invalid_client"


def test_kid_must_match_exactly_one_key(kit: SmartKit, rs: Backend) -> None:
    assert (
        _error(kit.client_credentials(kit.raw_assertion(rs, header={"kid": "nope"}), SCOPE))
        == "invalid_client"
    )
    headless = kit.raw_assertion(rs, header={"kid": ""})
    assert _error(kit.client_credentials(headless, SCOPE)) == "invalid_client"


def test_jku_must_equal_the_registered_url(kit: SmartKit, rs: Backend) -> None:
    r = kit.client_credentials(
        kit.raw_assertion(rs, header={"jku": "https://evil.example/jwks"}), SCOPE
    )
    assert _error(r) == "invalid_client"


def test_jti_replay_is_refused(kit: SmartKit, rs: Backend) -> None:
    assertion = kit.raw_assertion(rs)
    assert kit.client_credentials(assertion, SCOPE).status_code == 200
    assert _error(kit.client_credentials(assertion, SCOPE)) == "invalid_client"


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """A loopback HTTP server publishing a JWK Set the test can change."""
    doc: dict[str, Any] = {"keys": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    port = free_port()
    httpd = HTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/jwks.json", doc
    httpd.shutdown()


def test_jwks_by_url_and_key_rotation(
    kit: SmartKit, jwks_server: tuple[str, dict[str, Any]]
) -> None:
    url, doc = jwks_server
    first = new_key("ES384")
    doc["keys"] = [first.as_dict(private=False)]
    reg = kit.backend(SCOPE, alg="ES384", jwks=None, jwks_uri=url)
    bc = Backend(reg.client_id, first, "ES384")
    assert (
        kit.client_credentials(kit.raw_assertion(bc, header={"jku": url}), SCOPE).status_code == 200
    )
    second = new_key("RS384")
    doc["keys"] = [first.as_dict(private=False), second.as_dict(private=False)]
    rotated = Backend(reg.client_id, second, "RS384")
    assert kit.client_credentials(kit.raw_assertion(rotated), SCOPE).status_code == 200


def test_system_token_on_dicomweb_and_admin_only_delete(kit: SmartKit) -> None:
    writer = kit.backend("system/ImagingStudy.cruds")
    reader_token = bearer(kit.backend_token(kit.backend(SCOPE), SCOPE))
    writer_token = bearer(kit.backend_token(writer, "system/ImagingStudy.cruds"))
    spec = factory.study("BK-1", "Back^End")
    parts = list(study_files(spec))
    assert stow_with(kit.server, parts, reader_token).status_code == 403
    assert stow_with(kit.server, parts, writer_token).status_code == 200
    found = httpx.get(
        f"{kit.server.dicomweb}/studies", params={"PatientID": "BK-1"}, headers=reader_token
    )
    assert [s["0020000D"]["Value"][0] for s in found.json()] == [spec.study_uid]
    url = f"{kit.server.dicomweb}/studies/{spec.study_uid}"
    r = httpx.delete(url, headers=writer_token)
    assert r.status_code == 403
    assert "insufficient_scope" in r.headers["www-authenticate"]
    admin = kit.backend("system/ImagingStudy.cruds", admin=True)
    assert (
        httpx.delete(
            url, headers=bearer(kit.backend_token(admin, "system/ImagingStudy.cruds"))
        ).status_code
        == 204
    )
    assert httpx.get(url + "/metadata", headers=reader_token).status_code == 404


def test_backend_client_cannot_use_other_grants(kit: SmartKit, rs: Backend) -> None:
    r = httpx.post(
        kit.token_url,
        data={"grant_type": "client_credentials", "client_id": rs.client_id, "scope": SCOPE},
    )
    assert _error(r) == "invalid_client"
