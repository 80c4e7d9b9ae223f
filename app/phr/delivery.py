"""Run one outbox job through its states: hold → preparing → encrypting → sending → done.

Retry policy: network errors, 408/425/429 and 5xx answers, and a JWK Set that cannot be fetched
are retried with exponential backoff (``Retry-After`` honoured) until ``phr_max_attempts``;
any other 4xx, or a redirect, stops the job as failed with the receiver's reason. Each try is
an attempt row and an audit event. Logs carry the delivery id only — never UIDs, names or paths
(blob keys contain UIDs, so exception messages are not logged either).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session

from app.archive.documents import Document, DocumentIndex
from app.errors import NotFound
from app.phr import outbox, recipients
from app.phr.keys import KeyFetchError, choose
from app.phr.models import Delivery, DeliveryStateValues, Recipient, utcnow
from app.phr.outbox import Backoff, LeaseLost
from app.phr.package import IntegrityError, encrypt_files, manifest, manifest_entry, plan_study
from app.phr.push import Spool, content_id, send_spool, write_spool
from app.phr.service import PhrService

logger = logging.getLogger(__name__)
State = DeliveryStateValues


class Stop(Exception):
    """End this run of the job (its outcome is already recorded)."""


def report_time(s: Session, patient_pk: int, study_uid: str) -> datetime | None:
    """When the study's first current report arrived (the release clock starts there)."""
    query = (
        select(func.min(Document.created_at))
        .join(DocumentIndex, DocumentIndex.document_pk == Document.pk)
        .where(
            Document.patient_pk == patient_pk,
            Document.status == "current",
            DocumentIndex.kind == "related",
            DocumentIndex.value == study_uid,
        )
    )
    found: datetime | None = s.execute(query).scalar()
    return found


class JobRun:
    """One pass over one leased job."""

    def __init__(self, svc: PhrService, job: Delivery, owner: str) -> None:
        self.svc = svc
        self.job = job
        self.owner = owner
        self.settings = svc.settings
        self.stage = State(job.state)
        self.started = utcnow()
        self._renewed = time.monotonic()

    @property
    def spool_path(self) -> Path:
        return self.settings.phr_spool_dir / f"{self.job.id}.body"

    def run(self) -> None:
        try:
            recipient = self._recipient()
            if self.stage in (State.QUEUED, State.WAITING) and self._held():
                return
            spool = self._existing_spool()
            if spool is None:
                spool = self._prepare_and_encrypt(recipient)
            self._send(recipient, spool)
        except Stop:
            return
        except LeaseLost:
            logger.info("delivery %s: lease lost, another worker has it", self.job.id)
        except KeyFetchError as exc:
            self._retry(str(exc))
        except IntegrityError:
            self._fail("the archive's copy failed its integrity check")
        except NotFound as exc:
            self._fail(exc.message)
        except Exception as exc:
            logger.error("delivery %s: %s in %s", self.job.id, type(exc).__name__, self.stage)
            self._retry(f"internal error ({type(exc).__name__})")

    def _recipient(self) -> Recipient:
        try:
            recipient = recipients.get(self.svc.engine, self.job.recipient_id)
        except NotFound:
            recipient = None
        if recipient is None or recipient.disabled or recipient.endpoint is None:
            self._fail("the PHR is no longer registered to receive deliveries")
            raise Stop
        return recipient

    def _held(self) -> bool:
        """Apply the release delay; True when the job must wait (it is released)."""
        delay = self.settings.phr_release_delay_hours
        if delay <= 0:
            return False
        with Session(self.svc.engine) as s:
            reported = report_time(s, self.job.patient_pk, self.job.study_uid)
        now = utcnow()
        if reported is None:
            until = now + timedelta(seconds=self.settings.phr_report_poll_seconds)
            self._release(State.WAITING, until, detail="waiting for the report")
            return True
        release_at = reported + timedelta(hours=delay)
        if release_at > now:
            detail = f"held until {release_at:%Y-%m-%d %H:%M} UTC (release delay)"
            self._release(State.WAITING, release_at, detail=detail, release_at=release_at)
            return True
        return False

    def _existing_spool(self) -> Spool | None:
        """A complete spool from an earlier run (the job reached ``sending`` before)."""
        path = self.spool_path
        job = self.job
        if self.stage != State.SENDING or not path.exists() or job.body_type is None:
            return None
        return Spool(path, job.body_type, path.stat().st_size)

    def _prepare_and_encrypt(self, recipient: Recipient) -> Spool:
        self._move(State.PREPARING, detail="")
        key = choose(self.svc.keys.keys(recipient.jwks, recipient.jwks_uri))
        with Session(self.svc.engine) as s:
            if self.job.study_pk is None:
                raise NotFound("the study is no longer in the archive")
            plan = plan_study(
                s,
                self.svc.store,
                self.job.study_pk,
                self.svc.resources,
                self.settings.base_url,
                self.settings.phr_part_size,
            )
            entries = [
                manifest_entry(f, location=f"cid:{content_id(i, self.job.id)}")
                for i, f in enumerate(plan.files)
            ]
            body = manifest(self.job.id, key.kid, utcnow().isoformat(), entries)
            self._move(State.ENCRYPTING, kid=key.kid, files=len(plan.files))
            spool = write_spool(
                self.spool_path,
                body,
                encrypt_files(s, self.svc.store, plan.files, key.key),
                self.job.id,
                self.heartbeat,
            )
        self._move(State.SENDING, body_type=spool.content_type, body_size=spool.size)
        return spool

    def _send(self, recipient: Recipient, spool: Spool) -> None:
        assert recipient.endpoint is not None
        self.started = utcnow()
        result = send_spool(
            recipient.endpoint,
            spool,
            self.job.id,
            recipient.push_token,
            self.settings.phr_send_timeout_seconds,
            self.heartbeat,
        )
        if result.outcome == "delivered":
            self._attempt("delivered", result.status, result.detail)
            self._release(State.DELIVERED, detail="", delivered_at=utcnow())
            self._drop_spool()
            self.svc.audit("phr.delivery", "success", self.owner, self.job.id, "delivered")
        elif result.outcome == "retry":
            self._retry(
                f"HTTP {result.status}: {result.detail}" if result.status else result.detail,
                result.status,
                result.retry_after,
            )
        else:
            self._fail(f"refused by the PHR (HTTP {result.status}): {result.detail}", result.status)

    def heartbeat(self) -> None:
        """Renew the lease now and then while encrypting or sending a large study."""
        if time.monotonic() - self._renewed > self.settings.phr_lease_seconds / 3:
            outbox.renew(self.svc.engine, self.job.id, self.owner, self.settings.phr_lease_seconds)
            self._renewed = time.monotonic()

    def _move(self, state: State, **values: object) -> None:
        outbox.move(self.svc.engine, self.job.id, self.owner, state, **values)
        self.stage = state

    def _release(self, state: State, at: datetime | None = None, **values: object) -> None:
        outbox.release(self.svc.engine, self.job.id, self.owner, state, at, **values)
        self.stage = state

    def _attempt(self, outcome: str, status: int | None, detail: str) -> int:
        number = outbox.record_attempt(
            self.svc.engine,
            self.job.id,
            self.owner,
            self.stage.value,
            outcome,
            self.started,
            status,
            detail,
        )
        self.svc.audit(
            "phr.delivery.attempt",
            "success" if outcome == "delivered" else "failure",
            self.owner,
            self.job.id,
            f"attempt {number} {self.stage.value}: {outcome} {detail}",
        )
        return number

    def _retry(self, reason: str, status: int | None = None, after: float | None = None) -> None:
        number = self._attempt("retry", status, reason)
        if number >= self.settings.phr_max_attempts:
            self._fail(f"gave up after {number} attempts; last: {reason}", status, count=False)
            return
        backoff = Backoff(self.settings.phr_retry_base_seconds, self.settings.phr_retry_max_seconds)
        at = utcnow() + timedelta(seconds=backoff.delay(number, after))
        detail = f"attempt {number} failed ({reason}); next try {at:%H:%M:%S} UTC"
        self._release(self.stage, at, detail=detail)

    def _fail(self, reason: str, status: int | None = None, count: bool = True) -> None:
        if count:
            self._attempt("failed", status, reason)
        self._release(State.FAILED, detail=reason)
        self._drop_spool()
        self.svc.audit("phr.delivery", "failure", self.owner, self.job.id, reason)

    def _drop_spool(self) -> None:
        self.spool_path.unlink(missing_ok=True)
        self.spool_path.with_suffix(".tmp").unlink(missing_ok=True)


def process(svc: PhrService, job_id: str, owner: str) -> None:
    """Run the leased job ``job_id`` as far as it can go now."""
    job = outbox.get(svc.engine, job_id)
    if job is None or job.lease_owner != owner:
        return
    JobRun(svc, job, owner).run()
