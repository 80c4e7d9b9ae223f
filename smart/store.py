"""Persistence of codes, grants and tokens, and the authlib model wrappers over them.

Tokens are opaque random strings; only their SHA-256 is stored, so a database leak yields no
usable token. A grant groups the tokens issued under one patient consent: revoking the grant,
re-using a spent authorization code, or replaying a rotated refresh token kills the whole
family at once (RFC 9700 §4.14.2).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, TokenMixin
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app import audit
from smart import hashing
from smart.models import AuthorizationCode, Grant, Token


@dataclass
class Authorizer:
    """The signed-in user behind a code or token, with the launch context they chose."""

    user_id: str
    grant_id: str
    context: dict[str, Any] = field(default_factory=dict)
    auth_time: int = 0

    def get_user_id(self) -> str:
        return self.user_id


@dataclass
class StoredCode(AuthorizationCodeMixin):  # type: ignore[misc]
    row: AuthorizationCode

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return self.row.auth_time

    def get_acr(self) -> str | None:
        return None

    def get_amr(self) -> list[str] | None:
        return None

    @property
    def code_challenge(self) -> str:
        return self.row.code_challenge

    @property
    def code_challenge_method(self) -> str:
        return self.row.code_challenge_method


@dataclass
class StoredToken(TokenMixin):  # type: ignore[misc]
    """A token row; ``as_refresh`` says the caller presented its refresh token."""

    row: Token
    as_refresh: bool = False

    def check_client(self, client: Any) -> bool:
        return bool(client is not None and client.get_client_id() == self.row.client_id)

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return self.row.expires_in

    @property
    def expires_at(self) -> int:
        if self.as_refresh:
            return self.row.refresh_expires_at or 0
        return self.row.issued_at + self.row.expires_in

    def is_expired(self) -> bool:
        return self.expires_at <= int(time.time())

    def is_revoked(self) -> bool:
        return self.row.refresh_revoked if self.as_refresh else self.row.access_revoked

    @property
    def context(self) -> dict[str, Any]:
        ctx: dict[str, Any] = json.loads(self.row.context)
        return ctx


def _now() -> datetime:
    return datetime.now(UTC)


# --- grants (consents) ----------------------------------------------------------------------


def upsert_grant(engine: Engine, user_id: str, client_id: str, scope: str) -> str:
    """The active grant of this user to this client, created or updated to ``scope``."""
    with Session(engine, expire_on_commit=False) as s:
        grant = s.exec(
            select(Grant).where(
                Grant.user_id == user_id,
                Grant.client_id == client_id,
                col(Grant.revoked_at).is_(None),
            )
        ).first()
        if grant is None:
            grant = Grant(id=uuid.uuid4().hex, user_id=user_id, client_id=client_id, scope=scope)
        else:
            grant.scope = " ".join(dict.fromkeys([*grant.scope.split(), *scope.split()]))
        s.add(grant)
        s.commit()
        grant_id = grant.id
    audit.record(engine, "grant.create", agent=user_id, entity=grant_id, detail=client_id)
    return grant_id


def grant_active(engine: Engine, grant_id: str | None) -> bool:
    if grant_id is None:
        return True
    with Session(engine, expire_on_commit=False) as s:
        grant = s.get(Grant, grant_id)
        return grant is not None and grant.revoked_at is None


def revoke_grant(engine: Engine, grant_id: str, *, agent: str, reason: str) -> None:
    """End a grant and every token issued under it, at once."""
    with Session(engine, expire_on_commit=False) as s:
        s.execute(
            update(Grant)
            .where(col(Grant.id) == grant_id, col(Grant.revoked_at).is_(None))
            .values(revoked_at=_now())
        )
        s.execute(
            update(Token)
            .where(col(Token.grant_id) == grant_id)
            .values(access_revoked=True, refresh_revoked=True)
        )
        s.commit()
    audit.record(engine, "grant.revoke", agent=agent, entity=grant_id, detail=reason)


# --- authorization codes ----------------------------------------------------------------------


def save_code(engine: Engine, code: str, row: AuthorizationCode) -> None:
    row.code_hash = hashing.sha256(code)
    with Session(engine, expire_on_commit=False) as s:
        s.add(row)
        s.commit()


def find_code(engine: Engine, code: str, client_id: str) -> StoredCode | None:
    """An unused, unexpired code of this client. A second use revokes the grant's tokens."""
    with Session(engine, expire_on_commit=False) as s:
        row = s.get(AuthorizationCode, hashing.sha256(code))
        if row is None or row.client_id != client_id:
            return None
        if row.used_at is not None:
            reused = row.grant_id
        elif row.expires_at < _now():
            return None
        else:
            return StoredCode(row)
    revoke_grant(engine, reused, agent=client_id, reason="authorization code reused")
    return None


def spend_code(engine: Engine, code: StoredCode) -> None:
    with Session(engine, expire_on_commit=False) as s:
        s.execute(
            update(AuthorizationCode)
            .where(col(AuthorizationCode.code_hash) == code.row.code_hash)
            .values(used_at=_now())
        )
        s.commit()


# --- tokens ------------------------------------------------------------------------------------


def save_token(engine: Engine, token: dict[str, Any], row: Token) -> Token:
    row.id = uuid.uuid4().hex
    row.access_hash = hashing.sha256(token["access_token"])
    if token.get("refresh_token"):
        row.refresh_hash = hashing.sha256(token["refresh_token"])
    with Session(engine, expire_on_commit=False) as s:
        s.add(row)
        s.commit()
        s.refresh(row)
    return row


def find_token(engine: Engine, value: str, hint: str | None = None) -> StoredToken | None:
    """The token whose access (or refresh) value this is; the hint only orders the lookups."""
    digest = hashing.sha256(value)
    kinds = ["refresh", "access"] if hint == "refresh_token" else ["access", "refresh"]
    with Session(engine, expire_on_commit=False) as s:
        for kind in kinds:
            column = Token.refresh_hash if kind == "refresh" else Token.access_hash
            row = s.exec(select(Token).where(column == digest)).first()
            if row is not None:
                return StoredToken(row, as_refresh=kind == "refresh")
    return None


def find_access(engine: Engine, value: str) -> tuple[StoredToken, bool] | None:
    """An access token and whether its grant is still active, in one query (every request)."""
    query = (
        select(Token, Grant.revoked_at)
        .join(Grant, col(Grant.id) == col(Token.grant_id), isouter=True)
        .where(Token.access_hash == hashing.sha256(value))
    )
    with Session(engine, expire_on_commit=False) as s:
        row = s.exec(query).first()
    if row is None:
        return None
    token, grant_revoked_at = row
    grant_active = token.grant_id is None or grant_revoked_at is None
    return StoredToken(token), grant_active


def revoke_token(engine: Engine, token: StoredToken, *, agent: str, reason: str) -> None:
    """Revoke the access and refresh token of one issue (RFC 7009 §2.1)."""
    with Session(engine, expire_on_commit=False) as s:
        s.execute(
            update(Token)
            .where(col(Token.id) == token.row.id)
            .values(access_revoked=True, refresh_revoked=True)
        )
        s.commit()
    audit.record(engine, "token.revoke", agent=agent, entity=token.row.id, detail=reason)


def retire_refresh(engine: Engine, token: StoredToken) -> None:
    """A refresh token is single-use: mark it spent after rotation (RFC 9700 §4.14.2)."""
    with Session(engine, expire_on_commit=False) as s:
        s.execute(update(Token).where(col(Token.id) == token.row.id).values(refresh_revoked=True))
        s.commit()
