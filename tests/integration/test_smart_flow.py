"""SMART App Launch on the live server, as an app sees it: discovery, standalone patient launch
with authlib's OAuth 2.0 client and PKCE (sign-in and consent forms driven over HTTP), the token
response, ID token, refresh (with and without ``scope``), and SMART Imaging Access."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from app.demo import study_files
from tests import factory
from tests.conftest import LiveServer
from tests.smart_kit import PATIENT_SCOPE, Patient, SmartKit, bearer

SITE_SCOPE = "system/ImagingStudy.cruds"


@pytest.fixture(scope="module")
def kit(live_server: LiveServer) -> Iterator[SmartKit]:
    k = SmartKit(live_server)
    yield k
    k.close()


@pytest.fixture(scope="module")
def site(kit: SmartKit) -> dict[str, str]:
    """A site system token (backend services) that stores the test studies."""
    return bearer(kit.backend_token(kit.backend(SITE_SCOPE), SITE_SCOPE))


@pytest.fixture(scope="module")
def studies(kit: SmartKit, site: dict[str, str]) -> dict[str, list[str]]:
    """Two studies of patient SF-1, one of SF-2; returns study UIDs per patient."""
    out: dict[str, list[str]] = {"SF-1": [], "SF-2": []}
    for pid, n in (("SF-1", 2), ("SF-2", 1)):
        for _ in range(n):
            spec = factory.study(pid, "Flow^Test")
            r = stow_with(kit.server, list(study_files(spec)), site)
            assert r.status_code == 200, r.text
            out[pid].append(spec.study_uid)
    return out


def stow_with(server: LiveServer, parts: list[bytes], headers: dict[str, str]) -> httpx.Response:
    from tests.integration.test_dicomweb_stow import multipart

    body, boundary = multipart(parts)
    return httpx.post(
        server.dicomweb + "/studies",
        content=body,
        headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary="{boundary}"',
            **headers,
        },
    )


@pytest.fixture(scope="module")
def alice(kit: SmartKit, studies: dict[str, list[str]]) -> Patient:
    return kit.patient("SF-1", "1970-01-01")


@pytest.mark.parametrize(
    "path", ["/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"]
)
def test_discovery(live_server: LiveServer, path: str) -> None:
    r = httpx.get(
        live_server.url + path, headers={"Accept": "text/html", "Origin": "https://app.example"}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["access-control-allow-origin"] in ("*", "https://app.example")
    conf = r.json()
    base = live_server.url
    assert conf["authorization_endpoint"] == f"{base}/oauth/authorize"
    assert conf["token_endpoint"] == f"{base}/oauth/token"
    assert conf["introspection_endpoint"] == f"{base}/oauth/introspect"
    assert conf["revocation_endpoint"] == f"{base}/oauth/revoke"
    assert conf["registration_endpoint"] == f"{base}/oauth/register"
    assert conf["management_endpoint"] == f"{base}/portal/apps"
    assert conf["jwks_uri"] == f"{base}/oauth/jwks"
    assert conf["issuer"] == base
    assert conf["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "client_credentials", "refresh_token"} <= set(
        conf["grant_types_supported"]
    )
    for cap in (
        "launch-standalone",
        "launch-ehr",
        "client-public",
        "client-confidential-symmetric",
        "client-confidential-asymmetric",
        "context-standalone-patient",
        "permission-patient",
        "permission-v1",
        "permission-v2",
        "permission-offline",
        "sso-openid-connect",
        "authorize-post",
        "smart-imaging-access",
    ):
        assert cap in conf["capabilities"], cap
    assert "RS384" in conf["token_endpoint_auth_signing_alg_values_supported"]
    assert "ES384" in conf["token_endpoint_auth_signing_alg_values_supported"]


def test_openid_configuration_and_jwks(live_server: LiveServer) -> None:
    conf = httpx.get(f"{live_server.url}/.well-known/openid-configuration").json()
    assert conf["issuer"] == live_server.url
    assert conf["id_token_signing_alg_values_supported"] == ["RS256"]
    keys = httpx.get(conf["jwks_uri"]).json()["keys"]
    assert keys and all(k["kty"] == "RSA" and "d" not in k and k.get("kid") for k in keys)


def _verify_id_token(server: LiveServer, id_token: str) -> dict[str, Any]:
    jwks = httpx.get(f"{server.url}/oauth/jwks").json()
    claims: dict[str, Any] = jwt.decode(
        id_token, KeySet.import_key_set(jwks), algorithms=["RS256"]
    ).claims
    return claims


def test_standalone_launch_token_response(kit: SmartKit, alice: Patient) -> None:
    client_id = kit.public_client()
    token = kit.authorize(client_id, alice)
    assert token["token_type"] == "Bearer"
    assert 0 < token["expires_in"] <= 3600
    assert set(token["scope"].split()) == set(PATIENT_SCOPE.split())
    assert token["patient"]
    assert token["refresh_token"]
    claims = _verify_id_token(kit.server, token["id_token"])
    assert claims["iss"] == kit.server.url
    assert claims["aud"] in (client_id, [client_id])
    assert claims["sub"] == alice.user_id
    assert claims["fhirUser"] == f"{kit.server.fhir}/Patient/{token['patient']}"


def test_token_response_headers(kit: SmartKit, alice: Patient) -> None:
    """Cache-Control: no-store and Pragma: no-cache on success and on error (RFC 6749 §5.1)."""
    bad = httpx.post(
        kit.token_url, data={"grant_type": "authorization_code", "code": "x", "client_id": "nope"}
    )
    assert bad.status_code in (400, 401)
    for r in (bad,):
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["pragma"] == "no-cache"
    client_id = kit.public_client()
    oauth = kit.oauth_client(client_id, scope=PATIENT_SCOPE)
    from authlib.common.security import generate_token

    verifier = generate_token(48)
    url, _state = oauth.create_authorization_url(
        kit.authorize_url, code_verifier=verifier, aud=kit.server.fhir
    )
    with kit.browser() as b:
        done = kit.consent(b, kit.sign_in(b, url, alice))
    code = done.headers["location"].split("code=")[1].split("&")[0]
    r = httpx.post(
        kit.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/callback",
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["pragma"] == "no-cache"
    assert r.json()["expires_in"] <= 3600


def test_same_patient_token_searches_and_downloads(
    kit: SmartKit, alice: Patient, studies: dict[str, list[str]]
) -> None:
    """SMART Imaging Access: the launch token works on QIDO and WADO-RS, for own studies only."""
    token = kit.authorize(kit.public_client(), alice)
    found = httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(token))
    assert found.status_code == 200
    assert {s["0020000D"]["Value"][0] for s in found.json()} == set(studies["SF-1"])
    uid = studies["SF-1"][0]
    wado = httpx.get(
        f"{kit.server.dicomweb}/studies/{uid}",
        headers={
            **bearer(token),
            "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*',
        },
    )
    assert wado.status_code == 200
    assert wado.content.count(b"DICM") == 2
    other = studies["SF-2"][0]
    assert (
        httpx.get(
            f"{kit.server.dicomweb}/studies/{other}/metadata", headers=bearer(token)
        ).status_code
        == 404
    )


def test_refresh_without_and_with_scope(kit: SmartKit, alice: Patient) -> None:
    client_id = kit.public_client()
    token = kit.authorize(client_id, alice)
    first = httpx.post(
        kit.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": client_id,
        },
    )
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    body = first.json()
    assert set(body["scope"].split()) == set(token["scope"].split())
    assert body["refresh_token"] != token["refresh_token"]  # rotated
    assert body["patient"] == token["patient"]
    assert body["expires_in"] <= 3600
    narrowed = httpx.post(
        kit.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": client_id,
            "scope": "patient/ImagingStudy.rs offline_access",
        },
    )
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "patient/ImagingStudy.rs offline_access"
    wider = httpx.post(
        kit.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": narrowed.json()["refresh_token"],
            "client_id": client_id,
            "scope": "patient/ImagingStudy.rs offline_access patient/*.rs",
        },
    )
    assert wider.status_code == 400
    assert wider.json()["error"] == "invalid_scope"


def test_spent_refresh_token_revokes_the_family(kit: SmartKit, alice: Patient) -> None:
    client_id = kit.public_client()
    token = kit.authorize(client_id, alice)
    data = {
        "grant_type": "refresh_token",
        "refresh_token": token["refresh_token"],
        "client_id": client_id,
    }
    new = httpx.post(kit.token_url, data=data).json()
    replay = httpx.post(kit.token_url, data=data)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    r = httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(new))
    assert r.status_code == 401


def test_confidential_symmetric_client(kit: SmartKit, alice: Patient) -> None:
    client_id, secret = kit.symmetric_client()
    token = kit.authorize(client_id, alice, secret=secret)
    assert token["patient"]
    assert httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(token)).status_code == 200


def test_v1_scopes_come_back_as_v1(kit: SmartKit, alice: Patient) -> None:
    scope = "launch/patient patient/*.read"
    token = kit.authorize(kit.public_client(scope), alice, scope)
    assert token["scope"] == scope
    assert "refresh_token" not in token
    assert httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(token)).status_code == 200


def test_patient_unticks_a_scope(kit: SmartKit, alice: Patient) -> None:
    """The token carries what was granted, not what was asked; the rest is refused (403)."""
    token = kit.authorize(kit.public_client(), alice, keep=["launch/patient", "openid", "fhirUser"])
    assert set(token["scope"].split()) == {"launch/patient", "openid", "fhirUser"}
    assert "refresh_token" not in token
    r = httpx.get(f"{kit.server.dicomweb}/studies", headers=bearer(token))
    assert r.status_code == 403
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]


def test_deny_redirects_with_access_denied(kit: SmartKit, alice: Patient) -> None:
    client_id = kit.public_client()
    oauth = kit.oauth_client(client_id, scope=PATIENT_SCOPE)
    url, state = oauth.create_authorization_url(
        kit.authorize_url, code_verifier="v" * 50, aud=kit.server.fhir
    )
    with kit.browser() as b:
        done = kit.consent(b, kit.sign_in(b, url, alice), decision="deny")
    assert done.status_code == 302
    loc = done.headers["location"]
    assert loc.startswith("http://127.0.0.1:9/callback?")
    assert "error=access_denied" in loc and f"state={state}" in loc


def test_authorize_by_post(kit: SmartKit, alice: Patient) -> None:
    """SMART ``authorize-post``: the same request as a form POST."""
    from authlib.common.security import generate_token

    client_id = kit.public_client()
    oauth = kit.oauth_client(client_id, scope=PATIENT_SCOPE)
    verifier = generate_token(48)
    url, state = oauth.create_authorization_url(
        kit.authorize_url, code_verifier=verifier, aud=kit.server.fhir
    )
    params = dict(httpx.URL(url).params)
    with kit.browser() as b:
        r = b.post("/oauth/authorize", data=params)
        assert r.status_code == 303 and r.headers["location"].startswith("/oauth/signin?")
        page = kit.sign_in(b, r.headers["location"], alice)
        done = kit.consent(b, page)
    token = oauth.fetch_token(
        kit.token_url,
        authorization_response=done.headers["location"],
        code_verifier=verifier,
        state=state,
    )
    assert token["patient"]
