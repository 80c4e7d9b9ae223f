"""Bearer token -> Principal, through ``smart.tokens`` (the authorization server's public API)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from app.access.principal import Principal
from app.errors import Unauthorized
from smart import tokens


def principal_for_token(engine: Engine, value: str, audience: str) -> Principal:
    """Verify an access token issued by ``smart`` for ``audience`` (our FHIR base URL); raises
    Unauthorized (RFC 6750 invalid_token)."""
    try:
        token = tokens.verify(engine, value, audience)
    except tokens.TokenRejected as exc:
        raise Unauthorized(str(exc), "invalid_token") from exc
    identities = frozenset([token.patient_identity]) if token.patient_identity else frozenset()
    return Principal.create(
        token.kind,
        token.client_id,
        token.scopes,
        patients=identities,
        fhir_patients=frozenset([token.patient]) if token.patient else frozenset(),
        fhir_context=token.fhir_context,
    )
