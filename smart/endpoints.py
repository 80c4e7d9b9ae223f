"""Token introspection (RFC 7662), revocation (RFC 7009) and dynamic registration (RFC 7591).

Introspection follows SMART "Token Introspection": the caller authenticates as a client (and
then sees only its own tokens) or presents a bearer token of a backend/system client (a resource
server), which may introspect any token. Anything not active answers exactly
``{"active": false}``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from smart import clients, scopes, store
from smart.clients import ASYMMETRIC, PUBLIC, SYMMETRIC, ClientError, OAuthClient

if TYPE_CHECKING:
    from smart.server import SmartServer

CLIENT_METHODS = [*SYMMETRIC, ASYMMETRIC, PUBLIC]


def _bearer(request: Any) -> str | None:
    value = request.headers.get("Authorization") or request.headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = CLIENT_METHODS
    server: SmartServer

    def authenticate_endpoint_client(self, request: Any) -> OAuthClient:
        bearer = _bearer(request)
        if bearer is None:
            client: OAuthClient = super().authenticate_endpoint_client(request)
            request.resource_server = False
            return client
        token = store.find_token(self.server.engine, bearer, "access_token")
        if token is None or token.as_refresh or token.is_expired() or token.is_revoked():
            raise InvalidClientError(description="The bearer token is not active.", status_code=401)
        caller = clients.get(self.server.engine, token.row.client_id)
        if caller is None:
            raise InvalidClientError(status_code=401)
        granted = scopes.clinical(scopes.split(token.get_scope()))
        request.resource_server = any(s.context == "system" for s in granted)
        request.client = caller
        return caller

    def check_permission(self, token: store.StoredToken, client: OAuthClient, request: Any) -> bool:
        return bool(getattr(request, "resource_server", False)) or token.check_client(client)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return store.find_token(self.server.engine, token_string, token_type_hint)

    def create_introspection_payload(self, token: store.StoredToken | None) -> dict[str, Any]:
        if token is None or token.is_expired() or token.is_revoked():
            return {"active": False}
        if not store.grant_active(self.server.engine, token.row.grant_id):
            return {"active": False}
        return self.introspect_token(token)

    def introspect_token(self, token: store.StoredToken) -> dict[str, Any]:
        row, ctx = token.row, token.context
        body: dict[str, Any] = {
            "active": True,
            "scope": row.scope,
            "client_id": row.client_id,
            "exp": token.expires_at,
            "iat": row.issued_at,
            "token_type": "refresh_token" if token.as_refresh else "Bearer",
            "iss": self.server.config.issuer,
        }
        if row.user_id:
            body["sub"] = row.user_id
        for key in ("patient", "fhirContext", "need_patient_banner"):
            if key in ctx:
                body[key] = ctx[key]
        if "fhirUser" in scopes.split(row.scope) and ctx.get("patient"):
            body["fhirUser"] = self.server.config.fhir_user(ctx["patient"])
        return body


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = CLIENT_METHODS
    server: SmartServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return store.find_token(self.server.engine, token_string, token_type_hint)

    def revoke_token(self, token: store.StoredToken, request: Any) -> None:
        store.revoke_token(
            self.server.engine, token, agent=token.row.client_id, reason="RFC 7009 request"
        )


class Registration(ClientRegistrationEndpoint):  # type: ignore[misc]
    """RFC 7591 registration, open only to holders of an initial access token."""

    server: SmartServer

    def authenticate_token(self, request: Any) -> str | None:
        token = _bearer(request)
        if token and clients.use_registration_token(self.server.engine, token):
            return token
        return None

    def get_server_metadata(self) -> dict[str, Any]:
        return {
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "response_types_supported": ["code"],
            "token_endpoint_auth_methods_supported": CLIENT_METHODS,
        }

    def generate_client_info(self, request: Any) -> dict[str, Any]:
        return {}

    def save_client(
        self, client_info: dict[str, Any], client_metadata: dict[str, Any], request: Any
    ) -> clients.Registered:
        method = client_metadata.get("token_endpoint_auth_method", PUBLIC)
        try:
            return clients.register(
                self.server.engine,
                client_metadata.get("client_name") or "unnamed app",
                scope=client_metadata.get("scope", ""),
                redirect_uris=list(client_metadata.get("redirect_uris") or []),
                jwks=client_metadata.get("jwks"),
                jwks_uri=client_metadata.get("jwks_uri"),
                confidential=method in SYMMETRIC,
                agent="rfc7591",
            )
        except ClientError as exc:
            from authlib.oauth2.rfc7591 import InvalidClientMetadataError

            raise InvalidClientMetadataError(str(exc)) from exc

    def generate_client_registration_info(
        self, client: clients.Registered, request: Any
    ) -> dict[str, Any]:
        info: dict[str, Any] = {
            "client_id": client.client_id,
            "client_id_issued_at": int(time.time()),
            "token_endpoint_auth_method": client.client.auth_method,
            "grant_types": client.client.grant_types,
            "scope": " ".join(client.client.scope),
        }
        if client.client_secret:
            info["client_secret"] = client.client_secret
            info["client_secret_expires_at"] = 0
        return info
