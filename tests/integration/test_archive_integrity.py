"""Crash safety, orphan sweep, readiness and concurrent stores into one study."""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pydicom
from pydicom.uid import generate_uid
from sqlalchemy import select
from sqlmodel import Session

from app.archive.models import Instance
from app.archive.service import Archive
from app.archive.status import StoreStatusValues
from app.archive.sweep import clear_temp, sweep_orphans
from app.config import Settings
from app.demo import PatientSpec, SeriesSpec, StudySpec, derived_uid, study_files
from tests import factory
from tests.conftest import fresh_database, run_server
from tests.integration.test_dicomweb_stow import stow

#: These tests are about archive behaviour; access control is tested in test_isolation.py
#: and test_smart_*.py, with authorization on.
SERVER_SETTINGS = {"auth": "off"}


def _archive(tmp: Path, db_url: str) -> Archive:
    return Archive.open(Settings(data_dir=tmp / "data", database_url=db_url))


def _temp(archive: Archive, data: bytes):  # type: ignore[no-untyped-def]
    temp = archive.store.new_temp()
    temp.write(data)
    temp.close()
    return temp


def test_failed_index_transaction_leaves_no_blob_and_no_row(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as db_url:
        archive = _archive(tmp_path, db_url)

        def crash(*_args: object) -> None:
            raise RuntimeError("simulated failure inside the index transaction")

        archive.ingestor.hooks.append(crash)
        results = archive.ingestor.store(
            [_temp(archive, d) for d in factory.files(factory.study("CRASH-1"))]
        )
        assert all(r.status == StoreStatusValues.PROCESSING_FAILURE for r in results)
        with Session(archive.engine) as s:
            assert s.execute(select(Instance)).first() is None
        assert list((tmp_path / "data" / "blobs").rglob("*.dcm")) == []
        assert list((tmp_path / "data" / "tmp").glob("*.part")) == []
        archive.close()


def test_sweep_removes_only_unreferenced_blobs(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as db_url:
        archive = _archive(tmp_path, db_url)
        kept = archive.ingestor.store(
            [_temp(archive, d) for d in factory.files(factory.study("SWEEP-1"))]
        )
        assert not any(r.failed for r in kept)
        # A crash between "blob durable" and "rows committed" leaves a blob like this one:
        orphan = _temp(archive, b"orphan bytes")
        archive.store.commit([(orphan, "1.2.3/4.5/6.7.deadbeef.dcm")])
        old = 1_000_000_000
        os.utime(archive.store.path("1.2.3/4.5/6.7.deadbeef.dcm"), (old, old))
        stale = tmp_path / "data" / "tmp" / "leftover.part"
        stale.write_bytes(b"x")
        os.utime(stale, (old, old))
        assert sweep_orphans(archive.engine, archive.store, older_than_s=60) == 1
        assert clear_temp(tmp_path / "data" / "tmp", older_than_s=60) == 1
        with Session(archive.engine) as s:
            keys = set(s.execute(select(Instance.blob_key)).scalars())
        assert keys and all(archive.store.exists(k) for k in keys)
        assert not archive.store.exists("1.2.3/4.5/6.7.deadbeef.dcm")
        archive.close()


def test_concurrent_stores_into_one_study_keep_exact_counts(tmp_path: Path) -> None:
    with run_server(tmp_path, auth="off") as server:
        uid = str(generate_uid())
        batches = []
        for i in range(4):
            spec = StudySpec(
                PatientSpec("CONC-1", "Conc^Urrent"),
                [SeriesSpec("CT", 5, 16, 16), SeriesSpec("MR", 3, 16, 16)],
                study_uid=uid,
                description=f"batch {i}",
            )
            batch = []
            for data in study_files(spec):  # same study and series, distinct instances
                ds = pydicom.dcmread(io.BytesIO(data))
                ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = derived_uid(
                    ds.SOPInstanceUID, i
                )
                buf = io.BytesIO()
                ds.save_as(buf)
                batch.append(buf.getvalue())
            batches.append(batch)
        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(lambda b: stow(server, b).status_code, batches))
        assert codes == [200] * 4
        (study,) = httpx.get(f"{server.dicomweb}/studies", params={"StudyInstanceUID": uid}).json()
        assert study["00201206"]["Value"] == [2]
        assert study["00201208"]["Value"] == [32]
        series = httpx.get(f"{server.dicomweb}/studies/{uid}/series").json()
        assert sorted(x["00201209"]["Value"][0] for x in series) == [12, 20]
        assert study["00080061"]["Value"] == ["CT", "MR"]


def test_readyz_reports_storage_failure(tmp_path: Path) -> None:
    with run_server(tmp_path, auth="off") as server:
        assert httpx.get(f"{server.url}/readyz").json()["storage"] == "ok"
        tmp = server.settings.tmp_dir
        tmp.chmod(0o500)
        try:
            if os.geteuid() == 0:  # root ignores permissions: remove the folder instead
                tmp.chmod(0o700)
                tmp.rename(tmp.with_name("tmp-gone"))
            r = httpx.get(f"{server.url}/readyz")
            assert r.status_code == 503
        finally:
            if tmp.with_name("tmp-gone").exists():
                tmp.with_name("tmp-gone").rename(tmp)
            tmp.chmod(0o700)
