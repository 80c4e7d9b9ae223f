"""Registered apps: public, confidential-symmetric and confidential-asymmetric clients.

A client with a JWKS (inline or by URL) authenticates with ``private_key_jwt``; without redirect
URIs it is a SMART Backend Services client (``client_credentials`` only). Registration happens
from the CLI (``imageshare clients register``) or over RFC 7591 with an administrator's initial
access token (``imageshare clients initial-token``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from app import audit
from smart import client_keys, hashing, scopes
from smart.models import Client, RegistrationToken

PUBLIC = "none"
SYMMETRIC = ("client_secret_basic", "client_secret_post")
ASYMMETRIC = "private_key_jwt"


class ClientError(ValueError):
    """Client metadata we cannot accept; the message is safe to show."""


@dataclass
class OAuthClient(ClientMixin):  # type: ignore[misc]
    """A client row detached from its session, with authlib's ClientMixin checks."""

    client_id: str
    name: str
    auth_method: str
    redirect_uris: list[str]
    scope: list[str]
    grant_types: list[str]
    secret_hash: str | None = None
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    launch_uri: str = ""
    is_admin: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Client) -> OAuthClient:
        return cls(
            client_id=row.client_id,
            name=row.name,
            auth_method=row.auth_method,
            redirect_uris=row.redirect_uris.split(),
            scope=row.scope.split(),
            grant_types=row.grant_types.split(),
            secret_hash=row.secret_hash,
            jwks=json.loads(row.jwks) if row.jwks else None,
            jwks_uri=row.jwks_uri,
            launch_uri=row.launch_uri,
            is_admin=row.is_admin,
        )

    @property
    def is_backend(self) -> bool:
        return self.grant_types == ["client_credentials"]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # SMART requires redirect_uri on every request; never guess one.
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The requested scopes this client may have (silently narrowed, SMART permits)."""
        allowed = scopes.narrow(scopes.split(scope), self.scope)
        return " ".join(allowed) if allowed else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact match (RFC 9700 §4.1.3)

    def check_client_secret(self, client_secret: str) -> bool:
        if not self.secret_hash:
            return False
        return hashing.same(self.secret_hash, hashing.sha256(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.auth_method in SYMMETRIC:
            return method in SYMMETRIC
        return method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass(frozen=True)
class Registered:
    client_id: str
    client_secret: str | None
    client: OAuthClient


def _check_uri(uri: str, what: str) -> None:
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise ClientError(f"{what} must be an absolute http(s) URL without a fragment: {uri}")


def _check_metadata(
    redirect_uris: list[str], launch_uri: str, jwks: dict[str, Any] | None, jwks_uri: str | None
) -> None:
    for uri in [*redirect_uris, *([launch_uri] if launch_uri else [])]:
        _check_uri(uri, "redirect/launch URI")
    if jwks_uri:
        _check_uri(jwks_uri, "jwks_uri")
    if jwks is not None:
        try:
            client_keys.parse(jwks)
        except client_keys.KeyFetchError as exc:
            raise ClientError(f"jwks: {exc}") from exc
    if jwks is None and jwks_uri is None and not redirect_uris:
        raise ClientError("a public or symmetric client needs at least one redirect URI")


def _checked_scopes(scope: str, *, backend: bool) -> list[str]:
    asked = scopes.split(scope)
    if not asked:
        raise ClientError("a client needs at least one scope")
    try:
        parsed = [scopes.validate(item) for item in asked]
    except scopes.InvalidScope as exc:
        raise ClientError(str(exc)) from exc
    if backend and any(c is None or c.context != "system" for c in parsed):
        raise ClientError("a backend services client (no redirect URI) takes system/ scopes only")
    return asked


def register(
    engine: Engine,
    name: str,
    *,
    scope: str,
    redirect_uris: list[str] | None = None,
    jwks: dict[str, Any] | None = None,
    jwks_uri: str | None = None,
    confidential: bool = False,
    launch_uri: str = "",
    is_admin: bool = False,
    client_id: str | None = None,
    agent: str = "admin-cli",
) -> Registered:
    """Create a client of the kind its arguments describe; returns id (and secret once)."""
    redirect_uris = redirect_uris or []
    _check_metadata(redirect_uris, launch_uri, jwks, jwks_uri)
    asymmetric = jwks is not None or jwks_uri is not None
    asked = _checked_scopes(scope, backend=not redirect_uris)
    secret = hashing.new_token() if confidential and not asymmetric else None
    if asymmetric:
        method = ASYMMETRIC
    elif secret:
        method = SYMMETRIC[0]
    else:
        method = PUBLIC
    grants = "authorization_code refresh_token" if redirect_uris else "client_credentials"
    row = Client(
        client_id=client_id or uuid.uuid4().hex,
        name=name.strip() or "unnamed app",
        secret_hash=hashing.sha256(secret) if secret else None,
        auth_method=method,
        redirect_uris=" ".join(redirect_uris),
        launch_uri=launch_uri,
        scope=" ".join(asked),
        grant_types=grants,
        jwks=json.dumps(jwks) if jwks is not None else None,
        jwks_uri=jwks_uri,
        is_admin=is_admin,
    )
    with Session(engine, expire_on_commit=False) as s:
        if s.get(Client, row.client_id) is not None:
            raise ClientError(f"client id {row.client_id} is taken")
        s.add(row)
        s.commit()
        s.refresh(row)
        client = OAuthClient.from_row(row)
    audit.record(engine, "client.register", agent=agent, entity=client.client_id, detail=method)
    return Registered(client.client_id, secret, client)


def get(engine: Engine, client_id: str | None) -> OAuthClient | None:
    if not client_id:
        return None
    with Session(engine, expire_on_commit=False) as s:
        row = s.get(Client, client_id)
        if row is None or row.disabled:
            return None
        return OAuthClient.from_row(row)


def new_registration_token(engine: Engine, lifetime: timedelta, uses: int = 1) -> str:
    """An RFC 7591 initial access token (printed once, stored as SHA-256)."""
    token = hashing.new_token()
    with Session(engine, expire_on_commit=False) as s:
        s.add(
            RegistrationToken(
                token_hash=hashing.sha256(token),
                uses_left=max(1, uses),
                expires_at=datetime.now(UTC) + lifetime,
            )
        )
        s.commit()
    audit.record(engine, "client.initial-token", agent="admin-cli")
    return token


def use_registration_token(engine: Engine, token: str) -> bool:
    """Spend one use of an initial access token; atomic under concurrent requests."""
    with Session(engine, expire_on_commit=False) as s:
        result = s.execute(
            update(RegistrationToken)
            .where(col(RegistrationToken.token_hash) == hashing.sha256(token))
            .where(col(RegistrationToken.uses_left) > 0)
            .where(col(RegistrationToken.expires_at) > datetime.now(UTC))
            .values(uses_left=col(RegistrationToken.uses_left) - 1)
        )
        s.commit()
        return bool(getattr(result, "rowcount", 0))
