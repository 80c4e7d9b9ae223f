"""House-keeping of the outbox worker: the spool keeps only active jobs' files, and expired pull
packages (with their file locations) are deleted."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.archive.blobs import LocalBlobStore
from app.config import Settings
from app.db import make_engine, migrate, session_scope
from app.fhir.study_bundle import study_collection
from app.phr import PhrService, outbox
from app.phr.models import DeliveryStateValues, PullFile, PullPackage, Recipient, utcnow
from app.phr.pull import purge_expired
from app.phr.worker import clean_spool
from tests.conftest import fresh_database


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[PhrService]:
    with fresh_database(tmp_path) as url:
        settings = Settings(data_dir=tmp_path / "data", database_url=url, phr_lease_seconds=5)
        engine = make_engine(url)
        migrate(engine)
        with session_scope(engine) as s:
            s.add(Recipient(id="r1", name="PHR", jwks='{"keys": []}', endpoint="https://x/"))
        store = LocalBlobStore(settings.blob_dir, settings.tmp_dir)
        yield PhrService(engine, store, settings, study_collection)
        engine.dispose()


def test_clean_spool(svc: PhrService) -> None:
    active = outbox.new_delivery(svc.engine, "r1", 1, 1, "1.2", "t").id
    done = outbox.new_delivery(svc.engine, "r1", 1, 1, "1.2", "t").id
    assert outbox.claim(svc.engine, "w", 5) == active
    assert outbox.claim(svc.engine, "w", 5) == done
    outbox.release(svc.engine, done, "w", DeliveryStateValues.DELIVERED)
    spool = svc.settings.phr_spool_dir
    spool.mkdir(parents=True)
    names = [f"{active}.body", f"{active}.tmp", f"{done}.body", "unknown.body"]
    for name in names:
        (spool / name).write_bytes(b"ciphertext")
    fresh = spool / f"{active}.tmp"
    assert clean_spool(svc) == 2  # the finished job's body and the unknown file
    assert sorted(p.name for p in spool.iterdir()) == sorted([f"{active}.body", fresh.name])
    old = time.time() - 60  # older than two leases: a crashed writer's leftover
    os.utime(fresh, (old, old))
    assert clean_spool(svc) == 1
    assert [p.name for p in spool.iterdir()] == [f"{active}.body"]


def test_purge_expired_pull_packages(svc: PhrService) -> None:
    now = utcnow()
    with session_scope(svc.engine) as s:
        for pid, expires in (
            ("old", now - timedelta(seconds=1)),
            ("new", now + timedelta(hours=1)),
        ):
            s.add(
                PullPackage(
                    id=pid,
                    recipient_id="r1",
                    patient_pk=1,
                    study_uid="1.2",
                    kid="k",
                    expires_at=expires,
                )
            )
            s.flush()
            s.add(
                PullFile(
                    token_hash=f"h-{pid}",
                    package_id=pid,
                    blob_key="k",
                    byte_length=1,
                    sha256="x",
                    content_type="application/dicom",
                )
            )
    assert purge_expired(svc) == 1
    with session_scope(svc.engine) as s:
        assert list(s.execute(select(PullPackage.id)).scalars()) == ["new"]
        assert s.execute(select(func.count()).select_from(PullFile)).scalar_one() == 1
