"""Browser sessions for the sign-in, consent and portal pages, kept in the database.

The cookie carries a random id; the table keeps its SHA-256, the signed-in account and a CSRF
token that every form posts back (synchroniser token pattern). Signing in issues a new id, so a
session id planted before sign-in is useless afterwards (session fixation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from smart import hashing
from smart.models import PendingAuthorization
from smart.models import Session as BrowserSession

COOKIE = "imageshare_session"
LIFETIME = timedelta(hours=8)
PENDING_LIFETIME = timedelta(minutes=15)


@dataclass(frozen=True)
class SessionInfo:
    cookie: str
    id_hash: str
    csrf_token: str
    user_id: str | None
    auth_time: int | None


def _now() -> datetime:
    return datetime.now(UTC)


def create(engine: Engine, user_id: str | None = None) -> SessionInfo:
    cookie = hashing.new_token()
    csrf = hashing.new_token(24)
    auth_time = int(_now().timestamp()) if user_id else None
    row = BrowserSession(
        id_hash=hashing.sha256(cookie),
        csrf_token=csrf,
        user_id=user_id,
        auth_time=auth_time,
        expires_at=_now() + LIFETIME,
    )
    with Session(engine, expire_on_commit=False) as s:
        s.add(row)
        s.commit()
    return SessionInfo(cookie, row.id_hash, csrf, user_id, auth_time)


def load(engine: Engine, cookie: str | None) -> SessionInfo | None:
    if not cookie:
        return None
    with Session(engine, expire_on_commit=False) as s:
        row = s.get(BrowserSession, hashing.sha256(cookie))
        if row is None or row.expires_at < _now():
            return None
        return SessionInfo(cookie, row.id_hash, row.csrf_token, row.user_id, row.auth_time)


def check_csrf(session: SessionInfo | None, submitted: str | None) -> bool:
    return bool(session and submitted and hashing.same(session.csrf_token, submitted))


def sign_in(engine: Engine, old: SessionInfo | None, user_id: str) -> SessionInfo:
    """A fresh session for ``user_id``; pending requests of the old session move with it."""
    new = create(engine, user_id)
    if old is not None:
        with Session(engine, expire_on_commit=False) as s:
            for pending in s.exec(
                select(PendingAuthorization).where(
                    col(PendingAuthorization.session_hash) == old.id_hash
                )
            ):
                pending.session_hash = new.id_hash
                s.add(pending)
            s.execute(delete(BrowserSession).where(col(BrowserSession.id_hash) == old.id_hash))
            s.commit()
    return new


def end(engine: Engine, session: SessionInfo) -> None:
    with Session(engine, expire_on_commit=False) as s:
        s.execute(delete(BrowserSession).where(col(BrowserSession.id_hash) == session.id_hash))
        s.commit()


def save_pending(engine: Engine, session: SessionInfo, params: dict[str, Any]) -> str:
    """Keep a validated authorization request until the user has signed in and consented."""
    pending_id = hashing.new_token(18)
    with Session(engine, expire_on_commit=False) as s:
        s.add(
            PendingAuthorization(
                id=pending_id,
                session_hash=session.id_hash,
                params=json.dumps(params),
                expires_at=_now() + PENDING_LIFETIME,
            )
        )
        s.commit()
    return pending_id


def load_pending(engine: Engine, session: SessionInfo | None, pending_id: str) -> dict[str, Any]:
    """The request's parameters, only for the browser session that started it (else {})."""
    if session is None or not pending_id:
        return {}
    with Session(engine, expire_on_commit=False) as s:
        row = s.get(PendingAuthorization, pending_id)
        if row is None or row.expires_at < _now():
            return {}
        if not hashing.same(row.session_hash, session.id_hash):
            return {}
        params: dict[str, Any] = json.loads(row.params)
        return params


def drop_pending(engine: Engine, pending_id: str) -> None:
    with Session(engine, expire_on_commit=False) as s:
        s.execute(delete(PendingAuthorization).where(col(PendingAuthorization.id) == pending_id))
        s.commit()
