"""Shared fixtures: a fresh database per module (SQLite file or a PostgreSQL schema) and a live
uvicorn server on a free loopback port.

Set ``IMAGESHARE_DATABASE_URL`` to a PostgreSQL URL to run the whole suite there; each module
then gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pydicom
import pytest
import sqlalchemy
import uvicorn

from app.config import Settings
from app.main import create_app

PG_URL = os.environ.get("IMAGESHARE_DATABASE_URL", "")


def _pg(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


@contextlib.contextmanager
def fresh_database(tmp: Path) -> Iterator[str]:
    """A database URL nobody else uses: a new SQLite file, or a new PostgreSQL schema."""
    if not PG_URL:
        yield f"sqlite:///{tmp / 'index.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(_pg(PG_URL))
    with admin.begin() as conn:
        conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{_pg(PG_URL)}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    settings: Settings
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicomweb"

    @property
    def fhir(self) -> str:
        return f"{self.url}/fhir"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@contextlib.contextmanager
def run_server(tmp: Path, **overrides: Any) -> Iterator[LiveServer]:
    """Start the real app under uvicorn on 127.0.0.1 and wait until /readyz answers 200."""
    port = free_port()
    with fresh_database(tmp) as db_url:
        values: dict[str, Any] = {
            "data_dir": tmp / "data",
            "database_url": db_url,
            "base_url": f"http://127.0.0.1:{port}",
        }
        values.update(overrides)
        settings = Settings(**values)
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        live = LiveServer(f"http://127.0.0.1:{port}", settings, server, thread)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{live.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                live.stop()
                raise RuntimeError("server did not become ready")
            time.sleep(0.05)
        try:
            yield live
        finally:
            live.stop()


@pytest.fixture(scope="module")
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One server per test module, with its own data folder and database.

    A module may set ``SERVER_SETTINGS`` (e.g. ``{"auth": "off"}`` for modules that test archive
    behaviour; access control has its own modules) to override settings for its server.
    """
    overrides = getattr(request.module, "SERVER_SETTINGS", {})
    with run_server(tmp_path_factory.mktemp("server"), **overrides) as server:
        yield server


@pytest.fixture(autouse=True)
def _pydicom_strict() -> Iterator[None]:
    """Our own test data must be valid DICOM: raise on any value pydicom would warn about."""
    old = pydicom.config.settings.writing_validation_mode
    pydicom.config.settings.writing_validation_mode = pydicom.config.RAISE
    yield
    pydicom.config.settings.writing_validation_mode = old
