"""``private_key_jwt`` client authentication (RFC 7523 §2.2; SMART "Client Authentication:
Asymmetric"), on authlib's ``JWTBearerClientAssertion``.

Stricter than the base class, as SMART asks: ``alg`` must be RS384 or ES384 (so ``none`` and
HMAC are refused), ``kid`` must name exactly one of the client's keys, ``jku`` is honoured only
when it equals the registered JWKS URL, ``exp`` may lie at most five minutes ahead, and every
``jti`` is remembered until it expires so a replayed assertion is refused.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7523.client import ASSERTION_TYPE
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from smart import client_keys
from smart.clients import ASYMMETRIC, OAuthClient
from smart.models import UsedAssertion

if TYPE_CHECKING:
    from smart.server import SmartServer

ALGORITHMS = ("RS384", "ES384")


class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = ASYMMETRIC

    def __init__(self, server: SmartServer) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.server = server

    def get_audiences(self) -> list[str]:
        return [self.server.config.token_url]

    def __call__(self, query_client: Any, request: Any) -> OAuthClient | None:
        form = request.form
        assertion = form.get("client_assertion")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not assertion:
            return None
        headers, claims = self.extract_assertion(assertion)
        client_id = claims.get("sub")
        if not isinstance(client_id, str):
            raise InvalidClientError(description="Missing or invalid claim: 'sub'")
        client: OAuthClient | None = query_client(client_id)
        if client is None or client.auth_method != ASYMMETRIC:
            raise InvalidClientError(description="Unknown client or not a private_key_jwt client.")
        key = self._key_for(client, headers)
        try:
            token = jwt.decode(assertion, key, algorithms=[headers["alg"]])
        except JoseError as exc:
            raise InvalidClientError(description="Client assertion signature is invalid.") from exc
        exp = token.claims.get("exp")
        if not isinstance(exp, int) or exp - time.time() > (
            self.server.config.assertion_max_lifetime + self.leeway
        ):
            raise InvalidClientError(description="Client assertion 'exp' must be within 5 minutes.")
        self.verify_claims(token.claims)
        request.client = client
        result: OAuthClient = self.authenticate_client(client)
        return result

    def _key_for(self, client: OAuthClient, headers: dict[str, Any]) -> Any:
        alg = headers.get("alg")
        if alg not in ALGORITHMS:
            raise InvalidClientError(description="Client assertion 'alg' must be RS384 or ES384.")
        kid = headers.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidClientError(description="Client assertion needs a 'kid' header.")
        jku = headers.get("jku")
        if jku is not None and jku != client.jwks_uri:
            raise InvalidClientError(description="'jku' does not match the registered JWKS URL.")
        try:
            matches = self._matching(client, kid, refresh=False)
            if len(matches) != 1 and client.jwks_uri:
                matches = self._matching(client, kid, refresh=True)
        except client_keys.KeyFetchError as exc:
            raise InvalidClientError(description=str(exc)) from exc
        if len(matches) != 1:
            raise InvalidClientError(description="'kid' must match exactly one client key.")
        return matches[0]

    @staticmethod
    def _matching(client: OAuthClient, kid: str, *, refresh: bool) -> list[Any]:
        keys = client_keys.key_set(client.jwks, client.jwks_uri, refresh=refresh)
        return [k for k in keys.keys if k.kid == kid]

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        """Remember the jti until the assertion expires; a second sight is a replay."""
        expires = datetime.fromtimestamp(int(claims["exp"]) + self.leeway, UTC)
        try:
            with Session(self.server.engine, expire_on_commit=False) as s:
                s.add(UsedAssertion(client_id=str(claims["sub"]), jti=str(jti), expires_at=expires))
                s.commit()
        except IntegrityError:
            return False
        return True
