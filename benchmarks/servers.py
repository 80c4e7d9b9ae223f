"""Start a throw-away ``imageshare serve`` for a benchmark: fresh data folder and database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import sqlalchemy

ROOT = Path(__file__).resolve().parents[1]
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def imageshare(
    db: str = "sqlite",
    workers: int = 1,
    env_extra: dict[str, str] | None = None,
) -> Iterator[tuple[str, int]]:
    """Run the server as a subprocess; yields (DICOMweb root URL, pid). ``db``: sqlite|postgres."""
    work = Path(tempfile.mkdtemp(prefix="imageshare-bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGESHARE_")}
    env.update(
        {
            "IMAGESHARE_DATA_DIR": str(work),
            "IMAGESHARE_LOG_LEVEL": "WARNING",
            # The archive's own speed: with auth on each request adds one token lookup.
            "IMAGESHARE_AUTH": "off",
            "IMAGESHARE_BASE_URL": f"http://127.0.0.1:{port}",
            **(env_extra or {}),
        }
    )
    schema = None
    admin = sqlalchemy.create_engine(PG_URL) if db == "postgres" else None
    if admin is not None:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with admin.begin() as c:
            c.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
        env["IMAGESHARE_DATABASE_URL"] = f"{PG_URL}?options=-csearch_path%3D{schema}"
    cmd = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("imageshare did not start")
            time.sleep(0.2)
        yield f"{base}/dicomweb", proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        subprocess.run(["rm", "-rf", str(work)], check=False)
        if admin is not None and schema:
            with admin.begin() as c:
                c.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
