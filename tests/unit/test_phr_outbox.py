"""The outbox (app.phr.outbox): one worker per job under a lease, guarded writes, backoff, and how
a receiver's answer is classified (app.phr.push.classify)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from app.db import make_engine, migrate, session_scope
from app.phr import outbox
from app.phr.models import Delivery, DeliveryStateValues, Recipient, utcnow
from app.phr.outbox import Backoff, LeaseLost
from app.phr.push import classify
from tests.conftest import fresh_database

State = DeliveryStateValues


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with fresh_database(tmp_path) as url:
        engine = make_engine(url)
        migrate(engine)
        with session_scope(engine) as s:
            s.add(Recipient(id="r1", name="PHR", jwks='{"keys": []}', endpoint="https://x/"))
        yield engine
        engine.dispose()


def job(engine: Engine, **kw: object) -> str:
    return outbox.new_delivery(engine, "r1", 1, 1, "1.2.3", "tester", **kw).id  # type: ignore[arg-type]


def test_claim_is_exclusive_until_the_lease_expires(engine: Engine) -> None:
    job_id = job(engine)
    assert outbox.claim(engine, "A", lease_seconds=0.5) == job_id
    assert outbox.claim(engine, "B", lease_seconds=0.5) is None
    outbox.move(engine, job_id, "A", State.PREPARING)
    time.sleep(0.6)
    # A stalled past its lease: B takes over, and A can no longer write.
    assert outbox.claim(engine, "B", lease_seconds=30) == job_id
    with pytest.raises(LeaseLost):
        outbox.move(engine, job_id, "A", State.ENCRYPTING)
    with pytest.raises(LeaseLost):
        outbox.renew(engine, job_id, "A", 30)
    with pytest.raises(LeaseLost):
        outbox.record_attempt(engine, job_id, "A", "sending", "retry", utcnow())
    outbox.move(engine, job_id, "B", State.ENCRYPTING)
    found = outbox.get(engine, job_id)
    assert found is not None and found.state == "encrypting" and found.lease_owner == "B"


def test_release_schedules_and_final_states_are_not_claimed(engine: Engine) -> None:
    first, second = job(engine), job(engine)
    assert outbox.claim(engine, "A", 30) == first
    later = utcnow() + timedelta(seconds=60)
    outbox.release(engine, first, "A", State.SENDING, later, detail="retry later")
    assert outbox.claim(engine, "A", 30) == second  # the first is not due yet
    outbox.release(engine, second, "A", State.DELIVERED)
    assert outbox.claim(engine, "A", 30) is None
    row = outbox.get(engine, first)
    assert row is not None and row.lease_owner is None and row.detail == "retry later"
    assert row.next_attempt_at >= later - timedelta(seconds=1)


def test_attempts_are_counted_and_logged(engine: Engine) -> None:
    job_id = job(engine)
    assert outbox.claim(engine, "A", 30) == job_id
    started = utcnow()
    assert outbox.record_attempt(engine, job_id, "A", "sending", "retry", started, 503, "x") == 1
    assert outbox.record_attempt(engine, job_id, "A", "sending", "delivered", started, 200) == 2
    log = outbox.attempts(engine, job_id)
    assert [(a.number, a.outcome, a.http_status) for a in log] == [
        (1, "retry", 503),
        (2, "delivered", 200),
    ]
    row = outbox.get(engine, job_id)
    assert isinstance(row, Delivery) and row.attempts == 2


def test_backoff() -> None:
    b = Backoff(base=10, cap=100)
    for attempt, expected in [(1, 10), (2, 20), (3, 40), (4, 80)]:
        assert expected * 0.8 <= b.delay(attempt) <= expected * 1.2
    assert b.delay(10) <= 100
    assert b.delay(1, retry_after=50) >= 50  # the receiver's Retry-After wins if longer
    assert b.delay(1, retry_after=10_000) == 100  # but never past the cap


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (201, "delivered"),
        (202, "delivered"),
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (413, "failed"),
        (301, "failed"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
    ],
)
def test_classify(status: int, outcome: str) -> None:
    response = httpx.Response(status, text='{"error": "why\nnot"}', headers={"Retry-After": "7"})
    result = classify(response)
    assert result.outcome == outcome and result.status == status
    assert "\n" not in result.detail
    if outcome == "retry":
        assert result.retry_after == 7
