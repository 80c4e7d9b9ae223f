"""Registered PHRs: who may receive packages, with which public keys, at which endpoint.

Registration (CLI or admin API) validates everything it is given: the JWK Set must hold at
least one usable ``use: enc`` key — fetched now when given by URL, so a typo is reported at
once — and URLs must be https (http only on loopback). A recipient can be the same party as a
SMART client (``client_id``); pull requires that link, since the PHR authenticates as the client.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.db import session_scope
from app.errors import Conflict, InvalidInput, NotFound
from app.phr.keys import KeyFetchError, KeySource, check_url, parse_jwks
from app.phr.models import Recipient, utcnow


@dataclass(frozen=True)
class RecipientSpec:
    name: str
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    endpoint: str | None = None
    client_id: str | None = None
    push_token: str | None = None


def validate(spec: RecipientSpec, keys: KeySource) -> list[str]:
    """Check a registration; the ``kid`` values of its usable encryption keys."""
    if not spec.name.strip() or len(spec.name) > 200:
        raise InvalidInput("a recipient needs a name (at most 200 characters)", "name")
    if (spec.jwks is None) == (spec.jwks_uri is None):
        raise InvalidInput("give exactly one of jwks and jwks_uri", "jwks")
    if spec.endpoint is not None:
        check_url(spec.endpoint, "endpoint")
    if spec.client_id is not None and not spec.client_id.strip():
        raise InvalidInput("client_id must not be empty", "client_id")
    if spec.jwks is not None:
        return [k.kid for k in parse_jwks(spec.jwks)]
    assert spec.jwks_uri is not None
    check_url(spec.jwks_uri, "jwks_uri")
    try:
        return [k.kid for k in keys.fetch(spec.jwks_uri)]
    except KeyFetchError as exc:
        raise InvalidInput(f"jwks_uri: {exc}", "jwks_uri") from exc


def register(engine: Engine, spec: RecipientSpec, keys: KeySource) -> Recipient:
    validate(spec, keys)
    with session_scope(engine) as s:
        if spec.client_id and _by_client(s, spec.client_id) is not None:
            raise Conflict("a recipient is already registered for that client_id", "client_id")
        row = Recipient(
            id=str(uuid.uuid4()),
            name=spec.name.strip(),
            client_id=spec.client_id,
            jwks=json.dumps(spec.jwks) if spec.jwks is not None else None,
            jwks_uri=spec.jwks_uri,
            endpoint=spec.endpoint,
            push_token=spec.push_token,
        )
        s.add(row)
    return row


def set_disabled(engine: Engine, recipient_id: str, disabled: bool) -> Recipient:
    with session_scope(engine) as s:
        row = s.get(Recipient, recipient_id)
        if row is None:
            raise NotFound("no such recipient")
        row.disabled, row.updated_at = disabled, utcnow()
        s.add(row)
    return row


def get(engine: Engine, recipient_id: str) -> Recipient:
    with Session(engine, expire_on_commit=False) as s:
        row = s.get(Recipient, recipient_id)
    if row is None:
        raise NotFound("no such recipient")
    return row


def by_client(engine: Engine, client_id: str) -> Recipient | None:
    with Session(engine, expire_on_commit=False) as s:
        return _by_client(s, client_id)


def _by_client(s: Session, client_id: str) -> Recipient | None:
    return s.execute(select(Recipient).where(Recipient.client_id == client_id)).scalar()


def listing(engine: Engine, include_disabled: bool = False) -> list[Recipient]:
    with Session(engine, expire_on_commit=False) as s:
        query = select(Recipient).order_by(Recipient.created_at, Recipient.id)
        if not include_disabled:
            query = query.where(Recipient.disabled == False)  # noqa: E712 - SQL expression
        return list(s.execute(query).scalars())


def describe(row: Recipient) -> dict[str, Any]:
    """The public view of a registration (never the push token)."""
    return {
        "id": row.id,
        "name": row.name,
        "client_id": row.client_id,
        "jwks_uri": row.jwks_uri,
        "jwks": json.loads(row.jwks) if row.jwks else None,
        "endpoint": row.endpoint,
        "push": row.endpoint is not None,
        "disabled": row.disabled,
        "created": row.created_at.isoformat(),
    }
