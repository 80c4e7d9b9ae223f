"""The delivery outbox: jobs in the database, claimed under a lease, moved through named states.

Why a table and a lease rather than an in-memory queue: a delivery must survive restarts and
must be sent by one worker at a time even when several server processes run workers. Claiming
is a compare-and-set ``UPDATE … WHERE lease is free`` (atomic on SQLite and PostgreSQL); every
later write is guarded by ``lease_owner``, so a worker that lost its lease (it stalled past
``lease_until`` and another took over) cannot overwrite the new owner's progress.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from app.db import session_scope
from app.phr.models import (
    ACTIVE_STATES,
    Delivery,
    DeliveryAttempt,
    DeliveryStateValues,
    utcnow,
)


class LeaseLost(Exception):
    """Another worker holds the job now; stop working on it."""


@dataclass(frozen=True)
class Backoff:
    base: float
    cap: float

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Exponential backoff with ±20 % jitter; a server's Retry-After wins if longer."""
        exp = min(self.cap, self.base * 2.0 ** max(0, attempts - 1))
        delay = exp * random.uniform(0.8, 1.2)  # jitter, not a secret
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap))
        return float(min(delay, self.cap))


def new_delivery(
    engine: Engine,
    recipient_id: str,
    patient_pk: int,
    study_pk: int,
    study_uid: str,
    requested_by: str,
) -> Delivery:
    with session_scope(engine) as s:
        row = Delivery(
            id=str(uuid.uuid4()),
            recipient_id=recipient_id,
            patient_pk=patient_pk,
            study_pk=study_pk,
            study_uid=study_uid,
            requested_by=requested_by,
        )
        s.add(row)
    return row


def claim(engine: Engine, owner: str, lease_seconds: float) -> str | None:
    """Take the lease of one due job (oldest due first); its id, or None if none is due."""
    now = utcnow()
    free = or_(col(Delivery.lease_until).is_(None), col(Delivery.lease_until) < now)
    with session_scope(engine) as s:
        due = s.execute(
            select(Delivery.id)
            .where(
                Delivery.state.in_(ACTIVE_STATES),
                Delivery.next_attempt_at <= now,
                free,
            )
            .order_by(Delivery.next_attempt_at)
            .limit(8)
        ).scalars()
        for job_id in list(due):
            taken = s.execute(
                update(Delivery)
                .where(Delivery.id == job_id, free)
                .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds))
            )
            if taken.rowcount == 1:
                return str(job_id)
    return None


def _guarded(s: Session, job_id: str, owner: str, **values: Any) -> None:
    values.setdefault("updated_at", utcnow())
    done = s.execute(
        update(Delivery)
        .where(Delivery.id == job_id, Delivery.lease_owner == owner)
        .values(**values)
    )
    if done.rowcount != 1:
        raise LeaseLost(job_id)


def renew(engine: Engine, job_id: str, owner: str, lease_seconds: float) -> None:
    with session_scope(engine) as s:
        _guarded(s, job_id, owner, lease_until=utcnow() + timedelta(seconds=lease_seconds))


def move(
    engine: Engine, job_id: str, owner: str, state: DeliveryStateValues, **values: Any
) -> None:
    """Record a state change the patient can see (the job keeps its lease)."""
    with session_scope(engine) as s:
        _guarded(s, job_id, owner, state=state.value, **values)


def release(
    engine: Engine,
    job_id: str,
    owner: str,
    state: DeliveryStateValues,
    next_attempt_at: datetime | None = None,
    **values: Any,
) -> None:
    """Give the lease back, leaving the job in ``state`` until ``next_attempt_at``."""
    with session_scope(engine) as s:
        extra = {"next_attempt_at": next_attempt_at} if next_attempt_at else {}
        _guarded(
            s,
            job_id,
            owner,
            state=state.value,
            lease_owner=None,
            lease_until=None,
            **extra,
            **values,
        )


def record_attempt(
    engine: Engine,
    job_id: str,
    owner: str,
    stage: str,
    outcome: str,
    started: datetime,
    http_status: int | None = None,
    detail: str = "",
) -> int:
    """Count one attempt on the job and write it down; the new attempt count."""
    with session_scope(engine) as s:
        job = s.get(Delivery, job_id)
        if job is None or job.lease_owner != owner:
            raise LeaseLost(job_id)
        number = job.attempts + 1
        _guarded(s, job_id, owner, attempts=number)
        s.add(
            DeliveryAttempt(
                delivery_id=job_id,
                number=number,
                stage=stage,
                outcome=outcome,
                http_status=http_status,
                detail=detail[:500],
                started_at=started,
            )
        )
    return number


def get(engine: Engine, job_id: str) -> Delivery | None:
    with Session(engine, expire_on_commit=False) as s:
        return s.get(Delivery, job_id)


def attempts(engine: Engine, job_id: str) -> list[DeliveryAttempt]:
    with Session(engine, expire_on_commit=False) as s:
        query = (
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == job_id)
            .order_by(DeliveryAttempt.pk)
        )
        return list(s.execute(query).scalars())
