"""The authorization server: authlib's ``AuthorizationServer`` wired to our grants, storage and
Starlette.

authlib ships server integrations for Flask and Django only; the adapter here is the small part
it asks a framework to supply (``create_oauth2_request``, ``create_json_request``,
``handle_response``). Requests are parsed asynchronously by the route first, then everything
authlib does (all of it synchronous database work) runs in the thread pool.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    InvalidScopeError,
    JsonPayload,
    JsonRequest,
    OAuth2Payload,
    OAuth2Request,
)
from sqlalchemy.engine import Engine
from starlette.responses import JSONResponse, Response

from app import audit
from smart import clients, hashing, scopes, store
from smart.assertion import PrivateKeyJWT
from smart.clients import OAuthClient
from smart.config import PatientResolver, SmartConfig
from smart.endpoints import Introspection, Registration, Revocation
from smart.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    S256Challenge,
    SmartOpenIDCode,
)
from smart.models import Token

#: authlib logs whole token responses at DEBUG ("Issue token %r"): never let that reach a log,
#: whatever level the operator chose (tokens must not be logged).
logging.getLogger("authlib").setLevel(logging.INFO)

#: Launch-context values that travel in the token response (SMART "Launch context arrives with
#: your access_token").
RESPONSE_CONTEXT = ("patient", "fhirContext", "need_patient_banner")


class FormPayload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in items:
            self._datalist[key].append(value)
        self._data = {k: v[0] for k, v in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class FormRequest(OAuth2Request):  # type: ignore[misc]
    """An already-parsed request: query and form items, headers, and its public URL."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: dict[str, str],
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = FormPayload(query + form)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _JsonPayload(JsonPayload):  # type: ignore[misc]
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, Any]:
        return self._data


class JsonBodyRequest(JsonRequest):  # type: ignore[misc]
    def __init__(self, method: str, uri: str, headers: dict[str, str], data: Any) -> None:
        super().__init__(method, uri, headers)
        self.payload = _JsonPayload(data if isinstance(data, dict) else {})


class TokenGenerator:
    """Opaque bearer tokens; refresh tokens only under ``offline_access``/``online_access``."""

    def __init__(self, config: SmartConfig) -> None:
        self.config = config

    def __call__(
        self,
        grant_type: str,
        client: OAuthClient,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        allowed = client.get_allowed_scope(scope)
        if allowed is None:
            raise InvalidScopeError()
        backend = grant_type == "client_credentials"
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": hashing.new_token(),
            "expires_in": self.config.backend_lifetime if backend else self.config.access_lifetime,
            "scope": allowed,
        }
        words = set(scopes.split(allowed))
        if include_refresh_token and not backend and words & {"offline_access", "online_access"}:
            token["refresh_token"] = hashing.new_token()
        return token


class SmartServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, engine: Engine, config: SmartConfig, resolve_patient: PatientResolver):
        super().__init__()
        self.engine = engine
        self.config = config
        self.resolve_patient = resolve_patient
        self.register_token_generator("default", TokenGenerator(config))
        self.register_client_auth_method(PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT(self))
        self.register_grant(AuthorizationCodeGrant, [S256Challenge(), SmartOpenIDCode(self)])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_endpoint(Introspection(self))
        self.register_endpoint(Revocation(self))
        self.register_endpoint(Registration(self))

    def query_client(self, client_id: str) -> OAuthClient | None:
        return clients.get(self.engine, client_id)

    def validate_requested_scope(self, scope: str | None) -> None:
        try:
            for item in scopes.split(scope):
                scopes.validate(item)
        except scopes.InvalidScope as exc:
            raise InvalidScopeError(str(exc)) from exc

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Store the token (hashed) and add the launch context to the response."""
        client: OAuthClient = request.client
        grant_type = request.payload.grant_type
        who: store.Authorizer | None = request.user
        context = self._context(client, who)
        for key in RESPONSE_CONTEXT:
            if key in context:
                token[key] = context[key]
        now = int(time.time())
        refresh_until = None
        if token.get("refresh_token"):
            words = scopes.split(token["scope"])
            life = "offline_lifetime" if "offline_access" in words else "online_lifetime"
            refresh_until = now + int(getattr(self.config, life))
        row = Token(
            id="",
            access_hash="",
            client_id=client.client_id,
            user_id=who.user_id if who else None,
            grant_id=who.grant_id if who else None,
            scope=token["scope"],
            context=json.dumps(context),
            issued_at=now,
            expires_in=int(token["expires_in"]),
            refresh_expires_at=refresh_until,
        )
        saved = store.save_token(self.engine, token, row)
        audit.record(
            self.engine,
            "token.issue",
            agent=client.client_id,
            entity=saved.grant_id or saved.id,
            detail=f"{grant_type}: {token['scope']}"[:500],
        )

    def _context(self, client: OAuthClient, who: store.Authorizer | None) -> dict[str, Any]:
        """What the token stands for: the launch context, or the backend client's kind."""
        if who is None:
            context: dict[str, Any] = {"kind": "admin" if client.is_admin else "system"}
        else:
            context = dict(who.context)
        # The resource server this token is for (SMART: checked on every request).
        context["aud"] = self.config.fhir_base
        return context

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        assert isinstance(request, OAuth2Request)
        return request

    def create_json_request(self, request: Any) -> JsonRequest:
        assert isinstance(request, JsonRequest)
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if isinstance(body, dict):
            response: Response = JSONResponse(body, status_code=status)
        else:
            response = Response(body or b"", status_code=status)
        for name, value in items:
            if name.lower() != "content-type" or not isinstance(body, dict):
                response.headers[name] = value
        if status >= 400:
            self._audit_refusal(status, body)
        return response

    def _audit_refusal(self, status: int, body: Any) -> None:
        error = body.get("error", "") if isinstance(body, dict) else ""
        audit.record(self.engine, "oauth.refuse", outcome="failure", detail=f"{status} {error}")

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """authlib's hook for framework signals; audit is written where things happen."""
