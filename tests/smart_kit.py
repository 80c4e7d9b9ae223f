"""Drive SMART App Launch against a live server as an app and a patient's browser would:
register apps, enrol patients, sign in and consent over HTTP, exchange codes with authlib's
OAuth 2.0 client (PKCE S256), and sign Backend Services client assertions."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session as OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from app.db import make_engine
from smart import accounts, clients
from tests.conftest import LiveServer

#: Never contacted: the test reads the code from the redirect's Location header.
REDIRECT = "http://127.0.0.1:9/callback"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PATIENT_SCOPE = "launch/patient openid fhirUser offline_access patient/ImagingStudy.rs"


@dataclass
class Patient:
    user_id: str
    username: str
    password: str
    patient_id: str
    issuer: str = ""


@dataclass
class Backend:
    client_id: str
    key: Any
    alg: str

    @property
    def kid(self) -> str:
        return str(self.key.kid)


class SmartPrivateKeyJWT(PrivateKeyJWT):
    """authlib's client auth with a 5-minute assertion and our ``kid`` (SMART requires both)."""

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            header=dict(self.headers or {}),
            alg=self.alg,
            expires_in=300,
        )


def hidden(html: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert m, f"no hidden field {name}"
    return m.group(1)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class SmartKit:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.engine = make_engine(server.settings.effective_database_url)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def token_url(self) -> str:
        return f"{self.server.url}/oauth/token"

    @property
    def authorize_url(self) -> str:
        return f"{self.server.url}/oauth/authorize"

    # --- set-up ---------------------------------------------------------------------------

    def public_client(self, scope: str = PATIENT_SCOPE, **kw: Any) -> str:
        kw.setdefault("redirect_uris", [REDIRECT])
        return clients.register(self.engine, "Test app", scope=scope, **kw).client_id

    def symmetric_client(self, scope: str = PATIENT_SCOPE) -> tuple[str, str]:
        reg = clients.register(
            self.engine,
            "Confidential app",
            scope=scope,
            redirect_uris=[REDIRECT],
            confidential=True,
        )
        assert reg.client_secret
        return reg.client_id, reg.client_secret

    def backend(self, scope: str, *, alg: str = "RS384", admin: bool = False, **kw: Any) -> Backend:
        key = new_key(alg)
        jwks = kw.pop("jwks", {"keys": [key.as_dict(private=False)]})
        reg = clients.register(self.engine, "Backend", scope=scope, jwks=jwks, is_admin=admin, **kw)
        return Backend(reg.client_id, key, alg)

    def patient(self, patient_id: str, birth: str = "1970-01-01", issuer: str = "") -> Patient:
        enrolled = accounts.enrol(self.engine, patient_id, issuer, birth)
        username = f"user-{uuid.uuid4().hex[:10]}"
        password = generate_token(16)
        accounts.claim(self.engine, enrolled.access_code, birth, username, password)
        return Patient(enrolled.user_id, username, password, patient_id, issuer)

    # --- the browser --------------------------------------------------------------------------

    def browser(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, timeout=30)

    def sign_in(self, browser: httpx.Client, url: str, who: Patient) -> httpx.Response:
        """Follow an authorize (or sign-in) URL to the sign-in form and submit it; returns the
        consent page."""
        r = browser.get(url)
        location = r.headers["location"] if r.status_code == 303 else url
        page = browser.get(location) if r.status_code == 303 else r
        if "/oauth/signin" in location:
            r = browser.post(
                "/oauth/signin",
                data={
                    "csrf_token": hidden(page.text, "csrf_token"),
                    "request": hidden(page.text, "request"),
                    "username": who.username,
                    "password": who.password,
                },
            )
            assert r.status_code == 303, r.text
            page = browser.get(r.headers["location"])
        assert page.status_code == 200, page.text
        return page

    def consent(
        self,
        browser: httpx.Client,
        page: httpx.Response,
        keep: list[str] | None = None,
        decision: str = "allow",
    ) -> httpx.Response:
        offered = re.findall(r'name="scope" value="([^"]*)"', page.text)
        chosen = offered if keep is None else [s for s in offered if s in keep]
        data = {
            "csrf_token": hidden(page.text, "csrf_token"),
            "request": hidden(page.text, "request"),
            "decision": decision,
            "scope": chosen,
        }
        return browser.post("/oauth/consent", data=data)

    # --- the app ----------------------------------------------------------------------------

    def oauth_client(
        self, client_id: str, secret: str | None = None, scope: str = ""
    ) -> OAuth2Client:
        return OAuth2Client(
            client_id,
            secret,
            scope=scope,
            redirect_uri=REDIRECT,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
        )

    def authorize(
        self,
        client_id: str,
        who: Patient,
        scope: str = PATIENT_SCOPE,
        *,
        keep: list[str] | None = None,
        secret: str | None = None,
        **params: str,
    ) -> dict[str, Any]:
        """The whole standalone launch: authorize, sign in, consent, code -> token (PKCE)."""
        oauth = self.oauth_client(client_id, secret, scope)
        verifier = generate_token(48)
        url, state = oauth.create_authorization_url(
            self.authorize_url, code_verifier=verifier, aud=self.server.fhir, **params
        )
        with self.browser() as browser:
            done = self.consent(browser, self.sign_in(browser, url, who), keep)
        assert done.status_code == 302, done.text
        token: dict[str, Any] = oauth.fetch_token(
            self.token_url,
            authorization_response=done.headers["location"],
            code_verifier=verifier,
            state=state,
        )
        return token

    def backend_token(self, bc: Backend, scope: str) -> dict[str, Any]:
        """client_credentials with authlib's client and a private_key_jwt assertion."""
        oauth = OAuth2Client(
            bc.client_id,
            bc.key,
            token_endpoint_auth_method=SmartPrivateKeyJWT(
                self.token_url, headers={"kid": bc.kid}, alg=bc.alg
            ),
        )
        token: dict[str, Any] = oauth.fetch_token(
            self.token_url, grant_type="client_credentials", scope=scope
        )
        return token

    def raw_assertion(
        self, bc: Backend, *, header: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        now = int(time.time())
        body = {
            "iss": bc.client_id,
            "sub": bc.client_id,
            "aud": self.token_url,
            "exp": now + 240,
            "iat": now,
            "jti": uuid.uuid4().hex,
        }
        body.update(claims)
        head = {"alg": bc.alg, "kid": bc.kid, "typ": "JWT", **(header or {})}
        return jwt.encode(head, body, bc.key, algorithms=[head["alg"]])

    def client_credentials(self, assertion: str, scope: str) -> httpx.Response:
        return httpx.post(
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "scope": scope,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            },
        )


def new_key(alg: str) -> Any:
    if alg.startswith("ES"):
        key: Any = ECKey.generate_key("P-384", parameters={"alg": alg}, private=True)
    else:
        key = RSAKey.generate_key(2048, parameters={"alg": alg}, private=True)
    key.ensure_kid()
    return key


def bearer(token: dict[str, Any] | str) -> dict[str, str]:
    value = token if isinstance(token, str) else token["access_token"]
    return {"Authorization": f"Bearer {value}"}
