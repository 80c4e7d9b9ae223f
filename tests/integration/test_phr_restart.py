"""The server is killed (SIGKILL) in the middle of a delivery and started again: the package is
delivered exactly once. The server runs as a real ``imageshare serve`` subprocess on the same
data folder and database; the example receiver runs on another loopback port.

Two crash points: while the request body is still being sent (the receiver has stored
nothing), and after the receiver stored the package but before its answer reached the server
(the resend must be recognised as a repeat by its delivery id)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydicom.uid import generate_uid

from app.db import make_engine
from app.demo import PatientSpec, SeriesSpec, StudySpec, study_files
from app.phr import outbox
from examples.phr_receiver import keys as keyfile
from tests.conftest import free_port, fresh_database
from tests.imaging import stow
from tests.phr_kit import deliver, final, make_receiver, register, serve, wait_until

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    url: str

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicomweb"


@contextmanager
def imageshare(tmp: Path, db_url: str, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESHARE_")}
    env |= {
        "IMAGESHARE_DATA_DIR": str(tmp / "data"),
        "IMAGESHARE_DATABASE_URL": db_url,
        "IMAGESHARE_BASE_URL": f"http://127.0.0.1:{port}",
        "IMAGESHARE_AUTH": "off",
        "IMAGESHARE_LOG_LEVEL": "WARNING",
        "IMAGESHARE_PHR_POLL_SECONDS": "0.1",
        "IMAGESHARE_PHR_LEASE_SECONDS": "1",
        "IMAGESHARE_PHR_RETRY_BASE_SECONDS": "0.2",
        "IMAGESHARE_PHR_RETRY_MAX_SECONDS": "1",
    }
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(15)


def study(size: str) -> StudySpec:
    # "large": 40 images of 512 KiB, a body far larger than the loopback socket buffers, so the
    # server is still writing it when killed.
    series = [SeriesSpec("CT", 40, 512, 512)] if size == "large" else [SeriesSpec("CT", 3, 32, 32)]
    return StudySpec(
        PatientSpec(f"RESTART-{size}", "Restart^Rita", "19600101", "F"),
        [*series, SeriesSpec("MR", 2, 32, 32)],
        study_uid=str(generate_uid()),
        with_pdf_report=True,
    )


@pytest.mark.parametrize(
    ("hold", "size", "answers"),
    [
        ("before_body", "large", [400, "stored"]),
        ("before_answer", "small", ["stored", "duplicate"]),
    ],
)
def test_killed_mid_delivery_delivers_exactly_once(
    tmp_path: Path, hold: str, size: str, answers: list[object]
) -> None:
    spec = study(size)
    files = list(study_files(spec))
    receiver = make_receiver(tmp_path / "store", hold=hold)
    log = tmp_path / "server.log"
    with fresh_database(tmp_path) as db_url, serve(receiver.gate) as receiver.url:
        port = free_port()
        server = Proc(f"http://127.0.0.1:{port}")
        with imageshare(tmp_path, db_url, port, log) as proc:
            stow(server, files)  # type: ignore[arg-type]
            body = {
                "name": "Example PHR",
                "jwks": keyfile.public_jwks(receiver.config.keys),
                "endpoint": f"{receiver.url}/deliveries",
            }
            job = deliver(server, spec.study_uid, register(server, body))  # type: ignore[arg-type]
            assert receiver.gate.arrived.wait(30)
            if hold == "before_answer":
                # the receiver stores the package; its answer is held back
                deadline = time.monotonic() + 30
                while receiver.packages() != [job] and time.monotonic() < deadline:
                    time.sleep(0.05)
            else:
                time.sleep(0.5)  # the server blocks writing into full socket buffers
            proc.kill()
            proc.wait(15)
        engine = make_engine(db_url)
        row = outbox.get(engine, job)
        engine.dispose()
        assert row is not None and row.state == "sending" and row.lease_owner
        stored_before = receiver.packages()
        receiver.gate.release.set()
        with imageshare(tmp_path, db_url, port, log):
            view = wait_until(server, job, final, timeout=60)  # type: ignore[arg-type]
    assert view["state"] == "delivered", (view, log.read_text()[-3000:])
    assert stored_before == ([] if hold == "before_body" else [job])
    assert receiver.packages() == [job]
    assert receiver.dicom(job) == sorted(files)
    assert [e["body"].get("status", e["status"]) for e in receiver.config.log] == answers
    assert {r["idempotency-key"] for r in receiver.gate.requests} == {job}
