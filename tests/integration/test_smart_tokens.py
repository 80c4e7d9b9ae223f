"""Introspection (RFC 7662 as SMART profiles it), revocation (RFC 7009), dynamic registration
(RFC 7591 with an initial access token) and signing-key rotation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from joserfc import jws, jwt
from joserfc.jwk import KeySet

from smart import clients, keys
from tests.conftest import LiveServer
from tests.smart_kit import PATIENT_SCOPE, REDIRECT, Patient, SmartKit, bearer


@pytest.fixture(scope="module")
def kit(live_server: LiveServer) -> Iterator[SmartKit]:
    k = SmartKit(live_server)
    yield k
    k.close()


@pytest.fixture(scope="module")
def dora(kit: SmartKit) -> Patient:
    return kit.patient("TOK-1", "1975-05-05")


def _introspect(kit: SmartKit, token: str, **auth: object) -> httpx.Response:
    return httpx.post(f"{kit.server.url}/oauth/introspect", data={"token": token}, **auth)  # type: ignore[arg-type]


def test_invalid_token_is_exactly_inactive(kit: SmartKit) -> None:
    client_id, secret = kit.symmetric_client()
    r = _introspect(kit, "garbage", auth=(client_id, secret))
    assert r.status_code == 200
    assert r.json() == {"active": False}
    assert r.headers["cache-control"] == "no-store"


def test_introspection_needs_authentication(kit: SmartKit) -> None:
    r = _introspect(kit, "garbage")
    assert r.status_code == 401


def test_own_token_introspection(kit: SmartKit, dora: Patient) -> None:
    client_id, secret = kit.symmetric_client()
    token = kit.authorize(client_id, dora, secret=secret)
    body = _introspect(kit, token["access_token"], auth=(client_id, secret)).json()
    assert body["active"] is True
    assert body["client_id"] == client_id
    assert set(body["scope"].split()) == set(PATIENT_SCOPE.split())
    assert body["patient"] == token["patient"]
    assert body["exp"] > body["iat"]
    assert body["sub"] == dora.user_id
    assert body["iss"] == kit.server.url
    assert body["fhirUser"].endswith(f"/Patient/{token['patient']}")
    refresh = _introspect(kit, token["refresh_token"], auth=(client_id, secret)).json()
    assert refresh["active"] is True and refresh["exp"] > body["exp"]
    # another client may not learn about it
    other, other_secret = kit.symmetric_client()
    assert _introspect(kit, token["access_token"], auth=(other, other_secret)).json() == {
        "active": False
    }


def test_resource_server_introspects_any_token(kit: SmartKit, dora: Patient) -> None:
    """SMART: a backend/system bearer token authorises introspection of tokens of any client."""
    token = kit.authorize(kit.public_client(), dora)
    rs = kit.backend("system/ImagingStudy.rs")
    rs_token = kit.backend_token(rs, "system/ImagingStudy.rs")
    body = _introspect(kit, token["access_token"], headers=bearer(rs_token)).json()
    assert body["active"] is True and body["patient"] == token["patient"]
    # a patient app's token does not make its holder a resource server
    other = kit.authorize(kit.public_client(), dora)
    assert _introspect(kit, token["access_token"], headers=bearer(other)).json() == {
        "active": False
    }
    assert _introspect(kit, token["access_token"], headers=bearer("bogus")).status_code == 401


def test_revocation_then_introspection(kit: SmartKit, dora: Patient) -> None:
    client_id, secret = kit.symmetric_client()
    token = kit.authorize(client_id, dora, secret=secret)
    r = httpx.post(
        f"{kit.server.url}/oauth/revoke",
        data={"token": token["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(client_id, secret),
    )
    assert r.status_code == 200
    assert _introspect(kit, token["access_token"], auth=(client_id, secret)).json() == {
        "active": False
    }
    assert httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(token)).status_code == 401


def test_revoking_another_clients_token_is_refused(kit: SmartKit, dora: Patient) -> None:
    token = kit.authorize(kit.public_client(), dora)
    thief = kit.public_client()
    r = httpx.post(
        f"{kit.server.url}/oauth/revoke", data={"token": token["access_token"], "client_id": thief}
    )
    assert r.status_code == 400
    assert httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(token)).status_code in (
        200,
        204,
    )


def test_dynamic_registration_needs_an_initial_access_token(kit: SmartKit, dora: Patient) -> None:
    meta = {
        "client_name": "Registered PHR",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": PATIENT_SCOPE,
    }
    url = f"{kit.server.url}/oauth/register"
    assert httpx.post(url, json=meta).status_code in (400, 401, 403)
    assert httpx.post(url, json=meta, headers=bearer("made-up")).status_code in (400, 401, 403)
    initial = clients.new_registration_token(kit.engine, timedelta(hours=1), uses=1)
    r = httpx.post(url, json=meta, headers=bearer(initial))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["client_id"] and "client_secret" not in body
    assert body["token_endpoint_auth_method"] == "none"
    assert httpx.post(url, json=meta, headers=bearer(initial)).status_code in (400, 401, 403)
    token = kit.authorize(body["client_id"], dora)
    assert token["access_token"]


def test_dynamic_registration_of_a_confidential_client(kit: SmartKit) -> None:
    initial = clients.new_registration_token(kit.engine, timedelta(hours=1))
    meta = {
        "client_name": "Symmetric PHR",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": PATIENT_SCOPE,
    }
    body = httpx.post(f"{kit.server.url}/oauth/register", json=meta, headers=bearer(initial)).json()
    assert body["client_secret"]
    bad = clients.new_registration_token(kit.engine, timedelta(hours=1))
    wrong = dict(meta, redirect_uris=["not a url"])
    r = httpx.post(f"{kit.server.url}/oauth/register", json=wrong, headers=bearer(bad))
    assert r.status_code == 400
    assert r.json()["error"] in ("invalid_client_metadata", "invalid_redirect_uri")


def test_key_rotation_keeps_live_tokens(kit: SmartKit, dora: Patient) -> None:
    client_id = kit.public_client()
    before = kit.authorize(client_id, dora)
    old_kid = jws.extract_compact(before["id_token"].encode()).headers()["kid"]
    new_kid = keys.rotate(kit.engine)
    assert new_kid != old_kid
    jwks = KeySet.import_key_set(httpx.get(f"{kit.server.url}/oauth/jwks").json())
    assert {old_kid, new_kid} <= {k.kid for k in jwks.keys}
    jwt.decode(before["id_token"], jwks, algorithms=["RS256"])  # still verifies
    assert httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(before)).status_code in (
        200,
        204,
    )
    after = kit.authorize(client_id, dora)
    assert jws.extract_compact(after["id_token"].encode()).headers()["kid"] == new_kid
