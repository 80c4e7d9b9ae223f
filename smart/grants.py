"""The grant types we offer, as authlib grants with persistence hooks.

- Authorization code (RFC 6749 §4.1) with PKCE S256 required for every client (SMART 2.x,
  RFC 9700 §2.1.1), ``aud`` checked against our FHIR base, and the EHR ``launch`` parameter.
- Refresh token (§6), rotated on every use; a spent refresh token presented again revokes the
  whole grant.
- Client credentials (§4.4) for SMART Backend Services, ``private_key_jwt`` only.
- OpenID Connect ID tokens (RS256) with the SMART ``fhirUser`` claim.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import RSAKey
from sqlmodel import Session, select

from app import audit
from smart import keys, launch, scopes, store
from smart.clients import ASYMMETRIC, PUBLIC, SYMMETRIC
from smart.models import AuthorizationCode

if TYPE_CHECKING:
    from smart.server import SmartServer

USER_AUTH_METHODS = [PUBLIC, *SYMMETRIC, ASYMMETRIC]


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only, and a challenge on every authorization request."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("'code_challenge' is required (PKCE with S256).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = USER_AUTH_METHODS
    server: SmartServer

    def validate_authorization_request(self) -> str:
        redirect_uri: str = super().validate_authorization_request()
        data = self.request.payload.data
        state = self.request.payload.state
        if (data.get("aud") or "").rstrip("/") != self.server.config.fhir_base:
            raise InvalidRequestError(
                "'aud' must be this server's FHIR base URL.", redirect_uri=redirect_uri, state=state
            )
        wants_launch = "launch" in scopes.split(self.request.scope)
        if wants_launch and not launch.find(self.server.engine, data.get("launch"), self.client):
            raise InvalidRequestError(
                "'launch' is missing, unknown or expired.", redirect_uri=redirect_uri, state=state
            )
        return redirect_uri

    def save_authorization_code(self, code: str, request: Any) -> None:
        who: store.Authorizer = request.user
        data = request.payload.data
        row = AuthorizationCode(
            code_hash="",
            client_id=request.client.get_client_id(),
            user_id=who.user_id,
            grant_id=who.grant_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            code_challenge=data["code_challenge"],
            code_challenge_method=data.get("code_challenge_method", "S256"),
            nonce=data.get("nonce"),
            context=json.dumps(who.context),
            auth_time=who.auth_time,
            expires_at=datetime.now(UTC) + timedelta(seconds=self.server.config.code_lifetime),
        )
        store.save_code(self.server.engine, code, row)

    def query_authorization_code(self, code: str, client: Any) -> store.StoredCode | None:
        return store.find_code(self.server.engine, code, client.get_client_id())

    def delete_authorization_code(self, authorization_code: store.StoredCode) -> None:
        store.spend_code(self.server.engine, authorization_code)

    def authenticate_user(self, authorization_code: store.StoredCode) -> store.Authorizer | None:
        row = authorization_code.row
        if not store.grant_active(self.server.engine, row.grant_id):
            return None
        return store.Authorizer(row.user_id, row.grant_id, json.loads(row.context), row.auth_time)


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = USER_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: SmartServer

    def authenticate_refresh_token(self, refresh_token: str) -> store.StoredToken | None:
        engine = self.server.engine
        token = store.find_token(engine, refresh_token, "refresh_token")
        if token is None or not token.as_refresh:
            return None
        if token.is_revoked():
            if token.row.grant_id:
                store.revoke_grant(
                    engine, token.row.grant_id, agent=token.row.client_id, reason="refresh reuse"
                )
            return None
        if token.is_expired() or not store.grant_active(engine, token.row.grant_id):
            return None
        return token

    def _validate_token_scope(self, token: store.StoredToken) -> None:
        """Same or fewer scopes than granted (v1/v2 aware); omitted means the same."""
        asked = scopes.split(self.request.payload.scope)
        granted = scopes.split(token.get_scope())
        if asked and not all(scopes.covered(s, granted) for s in asked):
            raise InvalidScopeError("A refresh may not widen the granted scopes.")

    def authenticate_user(self, refresh_token: store.StoredToken) -> store.Authorizer | None:
        row = refresh_token.row
        if row.user_id is None or row.grant_id is None:
            return None
        return store.Authorizer(row.user_id, row.grant_id, refresh_token.context)

    def revoke_old_credential(self, refresh_token: store.StoredToken) -> None:
        store.retire_refresh(self.server.engine, refresh_token)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    """SMART Backend Services: signed client assertions only, never a refresh token."""

    TOKEN_ENDPOINT_AUTH_METHODS = [ASYMMETRIC]


class SmartOpenIDCode(OpenIDCode):  # type: ignore[misc]
    """ID tokens signed with our current RS256 key, carrying ``fhirUser`` when asked."""

    DEFAULT_EXPIRES_IN = 3600

    def __init__(self, server: SmartServer) -> None:
        super().__init__(require_nonce=False)
        self.server = server

    def _current(self) -> RSAKey:
        return keys.current(self.server.engine)

    def resolve_client_private_key(self, client: Any) -> RSAKey:
        return self._current()

    def get_client_algorithm(self, client: Any) -> str:
        return keys.ALG

    def get_encode_header(self, client: Any) -> dict[str, str]:
        return {"alg": keys.ALG, "kid": str(self._current().kid), "typ": "JWT"}

    def get_client_claims(self, client: Any) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.server.config.issuer,
            "aud": client.get_client_id(),
            "iat": now,
            "exp": now + self.DEFAULT_EXPIRES_IN,
        }

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        with Session(self.server.engine, expire_on_commit=False) as s:
            found = s.exec(
                select(AuthorizationCode).where(
                    AuthorizationCode.nonce == nonce,
                    AuthorizationCode.client_id == request.payload.client_id,
                )
            ).first()
            return found is not None

    def generate_user_info(self, user: store.Authorizer, scope: str) -> UserInfo:
        info = UserInfo(sub=user.user_id)
        patient = user.context.get("patient")
        if "fhirUser" in scopes.split(scope) and patient:
            info["fhirUser"] = self.server.config.fhir_user(patient)
        audit.record(self.server.engine, "id_token.issue", agent=user.user_id)
        return info
