"""Record and read audit events.

``record`` writes in its own short transaction so an audit entry survives the rollback of the
work it describes (a refused token request is recorded even though nothing else is written).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.audit.models import AuditEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditRecord:
    recorded: datetime
    action: str
    outcome: str
    agent: str
    entity: str
    detail: str


def record(
    engine: Engine,
    action: str,
    *,
    outcome: str = "success",
    agent: str = "",
    entity: str = "",
    detail: str = "",
) -> None:
    """Append one event; an audit failure is logged, never raised into the caller's request."""
    try:
        with Session(engine, expire_on_commit=False) as s:
            s.add(
                AuditEvent(
                    action=action,
                    outcome=outcome,
                    agent=agent[:200],
                    entity=entity[:200],
                    detail=detail[:500],
                )
            )
            s.commit()
    except Exception:
        logger.exception("could not write audit event %s", action)


def recent(
    engine: Engine, *, action: str | None = None, entity: str | None = None, limit: int = 100
) -> list[AuditRecord]:
    """The newest events first, optionally filtered by action prefix or entity."""
    with Session(engine, expire_on_commit=False) as s:
        query = select(AuditEvent).order_by(col(AuditEvent.pk).desc()).limit(limit)
        if action:
            query = query.where(col(AuditEvent.action).startswith(action))
        if entity:
            query = query.where(AuditEvent.entity == entity)
        rows = s.exec(query).all()
        return [
            AuditRecord(r.recorded, r.action, r.outcome, r.agent, r.entity, r.detail) for r in rows
        ]
