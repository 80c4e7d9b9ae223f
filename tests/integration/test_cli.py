"""The ``imageshare`` command: serve (the README's first command) and import."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.demo import demo_studies
from tests import factory
from tests.conftest import free_port, fresh_database, run_server

#: These tests are about archive behaviour; access control is tested in test_isolation.py
#: and test_smart_*.py, with authorization on.
SERVER_SETTINGS = {"auth": "off"}

IMAGESHARE = [sys.executable, "-m", "app.cli"]


def _env(tmp: Path, db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESHARE_")}
    env.update(
        {"IMAGESHARE_DATA_DIR": str(tmp / "data"), "IMAGESHARE_DATABASE_URL": db_url, **extra}
    )
    return env


@pytest.fixture
def served_demo(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    with fresh_database(tmp_path) as db_url:
        env = _env(
            tmp_path,
            db_url,
            IMAGESHARE_BASE_URL="https://images.example.org",
            IMAGESHARE_AUTH="off",
        )
        proc = subprocess.Popen(
            [*IMAGESHARE, "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                raise AssertionError("serve did not become ready")
            yield url, proc
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def test_serve_demo_loads_studies_and_uses_base_url(
    served_demo: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, _proc = served_demo
    studies = httpx.get(f"{url}/dicomweb/studies").json()
    assert {s["0020000D"]["Value"][0] for s in studies} == {s.study_uid for s in demo_studies()}
    for s in studies:
        assert s["00081190"]["Value"][0].startswith("https://images.example.org/dicomweb/")
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}


def test_demo_load_is_idempotent(tmp_path: Path) -> None:
    counts = []
    for _ in range(2):
        with run_server(tmp_path, auth="off", demo=True) as server:
            studies = httpx.get(f"{server.dicomweb}/studies").json()
            counts.append(sorted(s["00201208"]["Value"][0] for s in studies))
            blobs = sorted(p.name for p in server.settings.blob_dir.rglob("*.dcm"))
    assert counts[0] == counts[1]
    assert len(blobs) == sum(counts[0])


def test_import_files_folders_and_zips(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "nested" / "deeper").mkdir(parents=True)
    one, two, three = factory.study("IMP-1"), factory.study("IMP-2"), factory.study("IMP-3")
    for i, data in enumerate(factory.files(one)):
        (src / "nested" / "deeper" / f"a{i}.dcm").write_bytes(data)
    (src / "README.txt").write_text("not dicom")
    (src / "nested" / "junk.bin").write_bytes(b"\0" * 200)
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as zf:
        for i, data in enumerate(factory.files(two)):
            zf.writestr(f"study/x{i}", data)
        zf.writestr("notes.txt", "hello")
    single = tmp_path / "single.dcm"
    single.write_bytes(factory.files(three)[0])
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    with fresh_database(tmp_path) as db_url:
        env = _env(tmp_path, db_url)
        args = [
            *IMAGESHARE,
            "import",
            str(src),
            str(tmp_path / "two.zip"),
            str(single),
            str(broken),
            "--workers",
            "2",
        ]
        out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "stored: 5" in out.stdout
        assert "rejected: 1" in out.stdout
        assert "skipped (not DICOM): 3" in out.stdout
        assert "0xC000" in out.stdout
        again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert "stored: 0  duplicate: 5" in again.stdout
        assert "importing" in again.stderr  # the progress bar
        with run_server(tmp_path, auth="off", database_url=db_url) as server:
            studies = httpx.get(f"{server.dicomweb}/studies").json()
            assert {s["0020000D"]["Value"][0] for s in studies} == {
                one.study_uid,
                two.study_uid,
                three.study_uid,
            }


def test_import_missing_path_is_an_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [*IMAGESHARE, "import", str(tmp_path / "nope")],
        env=_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "no such file or folder" in out.stderr


def test_serve_with_several_workers_on_a_fresh_database(tmp_path: Path) -> None:
    """Workers start together; only one may create the schema, the others must wait for it."""
    port = free_port()
    with fresh_database(tmp_path) as db_url:
        env = _env(tmp_path, db_url)
        proc = subprocess.Popen(
            [*IMAGESHARE, "serve", "--workers", "3", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            ready = 0
            while time.monotonic() < deadline and ready < 5:
                try:
                    ok = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code
                    ready = ready + 1 if ok == 200 else 0
                except httpx.TransportError:
                    ready = 0
                time.sleep(0.2)
            assert ready == 5, "server with 3 workers did not stay ready"
            assert proc.poll() is None
        finally:
            proc.terminate()
            out = proc.communicate(timeout=30)[0].decode()
        assert "already exists" not in out
        assert "failed to start" not in out
