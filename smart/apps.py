"""The apps a patient has authorised, for the portal's management page (SMART
``management_endpoint``): list them, and revoke one (its tokens stop working at once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from smart import consent, store
from smart.models import Client, Grant


class AppNotFound(LookupError):
    """No such grant for this user."""


@dataclass(frozen=True)
class AuthorisedApp:
    grant_id: str
    client_id: str
    name: str
    since: datetime
    what: list[consent.ScopeLine]


def authorised(engine: Engine, user_id: str) -> list[AuthorisedApp]:
    with Session(engine, expire_on_commit=False) as s:
        rows = s.exec(
            select(Grant, Client)
            .join(Client, col(Client.client_id) == col(Grant.client_id))
            .where(Grant.user_id == user_id, col(Grant.revoked_at).is_(None))
            .order_by(col(Grant.created_at))
        ).all()
        return [
            AuthorisedApp(g.id, c.client_id, c.name, g.created_at, consent.lines(g.scope))
            for g, c in rows
        ]


def revoke(engine: Engine, user_id: str, grant_id: str) -> None:
    with Session(engine, expire_on_commit=False) as s:
        grant = s.get(Grant, grant_id)
        if grant is None or grant.user_id != user_id or grant.revoked_at is not None:
            raise AppNotFound(grant_id)
    store.revoke_grant(engine, grant_id, agent=user_id, reason="revoked by patient")


def launchable(engine: Engine) -> list[tuple[str, str]]:
    """(client id, name) of apps that can be opened from the portal (have a launch URL)."""
    with Session(engine, expire_on_commit=False) as s:
        rows = s.exec(
            select(Client).where(col(Client.launch_uri) != "", col(Client.disabled).is_(False))
        ).all()
        return [(c.client_id, c.name) for c in rows]
