"""The public API ``app.access`` uses: turn a presented bearer token into what it grants.

Tokens are opaque; verification is one indexed lookup of the token's SHA-256, so revocation
(of the token or its grant) takes effect on the very next request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.engine import Engine

from smart import scopes, store

Kind = Literal["patient", "system", "admin"]


@dataclass(frozen=True)
class AccessToken:
    client_id: str
    scopes: tuple[str, ...]
    kind: Kind
    expires_at: int
    user_id: str | None = None
    #: FHIR Patient id of the launch context (SMART ``patient``).
    patient: str | None = None
    #: (patient id, issuer) of the patient this token is about, for compartment filters.
    patient_identity: tuple[str, str] | None = None
    fhir_context: tuple[dict[str, Any], ...] = field(default_factory=tuple)


class TokenRejected(Exception):
    """Why a token is not usable: safe to put in ``WWW-Authenticate`` error_description."""


def verify(engine: Engine, value: str, audience: str) -> AccessToken:
    """The active access token ``value`` issued for ``audience`` (our FHIR base URL); raises
    TokenRejected when it is unknown, revoked, expired or meant for another server."""
    found = store.find_access(engine, value)
    if found is None:
        raise TokenRejected("The access token is not recognised.")
    token, grant_active = found
    if token.is_revoked() or not grant_active:
        raise TokenRejected("The access token was revoked.")
    if token.expires_at <= int(time.time()):
        raise TokenRejected("The access token expired.")
    ctx = token.context
    if ctx.get("aud") != audience:
        raise TokenRejected("The access token was issued for another server.")
    kind: Kind = ctx.get("kind", "patient")
    identity = ctx.get("patient_identity")
    return AccessToken(
        client_id=token.row.client_id,
        scopes=tuple(scopes.split(token.row.scope)),
        kind=kind,
        expires_at=token.expires_at,
        user_id=token.row.user_id,
        patient=ctx.get("patient"),
        patient_identity=(str(identity[0]), str(identity[1])) if identity else None,
        fhir_context=tuple(ctx.get("fhirContext") or ()),
    )
