"""The outbox worker: a thread that claims due deliveries and runs them, one at a time.

It runs inside the server by default (started and stopped by the app's lifespan) or on its own
as ``imageshare worker`` (then set ``IMAGESHARE_PHR_WORKER=false`` on the servers). Any number
of workers may run against one database: the lease in ``outbox.claim`` keeps each job with one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from sqlmodel import Session

from app.phr import delivery, outbox
from app.phr.models import ACTIVE_STATES, Delivery
from app.phr.pull import purge_expired
from app.phr.service import PhrService

logger = logging.getLogger(__name__)
#: How often expired pull packages (their file locations) are deleted, in seconds.
PURGE_EVERY = 300.0


class OutboxWorker:
    def __init__(self, svc: PhrService) -> None:
        self.svc = svc
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        clean_spool(self.svc)
        self._thread = threading.Thread(target=self._loop, name="phr-outbox", daemon=True)
        self._thread.start()
        logger.info("PHR outbox worker started (%s)", self.owner)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def run_once(self) -> bool:
        """Claim and run one due job; False when none was due."""
        job_id = outbox.claim(self.svc.engine, self.owner, self.svc.settings.phr_lease_seconds)
        if job_id is None:
            return False
        delivery.process(self.svc, job_id, self.owner)
        return True

    def run_forever(self) -> None:
        """Work in the calling thread until ``stop`` (the ``imageshare worker`` command)."""
        clean_spool(self.svc)
        self._loop()

    def _loop(self) -> None:
        poll = self.svc.settings.phr_poll_seconds
        next_purge = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_purge:
                    purge_expired(self.svc)
                    next_purge = time.monotonic() + PURGE_EVERY
                busy = self.run_once()
            except Exception as exc:
                # The database may be briefly unreachable; keep the worker alive.
                logger.error("PHR outbox worker: %s", type(exc).__name__)
                busy = False
                self._stop.wait(poll)
            if not busy:
                self._wake.wait(poll)
                self._wake.clear()


def clean_spool(svc: PhrService) -> int:
    """Remove spool files of jobs that are finished or gone, and stale partial writes.

    A partial (``.tmp``) file younger than two leases may belong to a worker in another process
    that is still writing it, so it is left alone.
    """
    folder = svc.settings.phr_spool_dir
    if not folder.is_dir():
        return 0
    removed = 0
    stale = time.time() - 2 * svc.settings.phr_lease_seconds
    with Session(svc.engine) as s:
        for path in folder.iterdir():
            job = s.get(Delivery, path.stem)
            active = job is not None and job.state in ACTIVE_STATES
            partial = path.suffix == ".tmp"
            if not active or (partial and path.stat().st_mtime < stale):
                path.unlink(missing_ok=True)
                removed += 1
    return removed
