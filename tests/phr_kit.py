"""Helpers for the PHR tests: the example receiver on its own loopback port, a gate in front of
it that can fail, hold or alter requests (a stand-in for an unreliable network or a hostile
relay), and small waits on the delivery API."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from jwcrypto import jwk
from pydicom.uid import generate_uid
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.demo import PatientSpec, SeriesSpec, StudySpec
from examples.phr_receiver import keys as keyfile
from examples.phr_receiver.receiver import ReceiverConfig, create_receiver
from tests.conftest import LiveServer, free_port

#: Settings that make the outbox quick enough for tests.
FAST = {
    "auth": "off",
    "phr_poll_seconds": 0.1,
    "phr_retry_base_seconds": 0.2,
    "phr_retry_max_seconds": 1.0,
    "phr_lease_seconds": 5.0,
    "phr_part_size": 64 * 1024,
    "phr_max_attempts": 6,
}


def multi_series(patient_id: str = "PHR-P1", name: str = "Jones^Alex") -> StudySpec:
    """Two CT series of small images, one MR series of 128 KiB images (split into parts at a
    64 KiB part size) and a PDF report."""
    return StudySpec(
        PatientSpec(patient_id, name, "19750505", "F"),
        [
            SeriesSpec("CT", 3, 32, 32, "Axial"),
            SeriesSpec("CT", 2, 32, 32, "Coronal"),
            SeriesSpec("MR", 2, 256, 256, "T1"),
        ],
        study_uid=str(generate_uid()),
        accession="PHR-ACC-1",
        description="PHR delivery test",
        with_pdf_report=True,
    )


@dataclass
class Gate:
    """ASGI middleware before the receiver: answer 503 to the first ``fail_first`` deliveries,
    hold one request (``hold``: "before_body" or "before_answer") until ``release`` is set, or
    alter the body (``mutate``) like a hostile relay."""

    app: ASGIApp
    fail_first: int = 0
    hold: str | None = None
    mutate: Callable[[bytes], bytes] | None = None
    seen: int = 0
    #: Content-Type and Idempotency-Key of each delivery request, in order.
    requests: list[dict[str, str]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/deliveries":
            await self.app(scope, receive, send)
            return
        self.seen += 1
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.requests.append(
            {k: headers.get(k, "") for k in ("content-type", "idempotency-key", "authorization")}
        )
        if self.seen <= self.fail_first:
            await _answer(send, 503, b'{"error": "busy"}')
            return
        holding = self.hold is not None and not self.arrived.is_set()
        self.arrived.set()
        if holding and self.hold == "before_body":
            await asyncio.to_thread(self.release.wait, 60)
        if self.mutate is not None:
            receive = self._mutating(receive)
        if holding and self.hold == "before_answer":
            send = self._held(send)
        await self.app(scope, receive, send)

    def _mutating(self, receive: Receive) -> Receive:
        mutate = self.mutate
        assert mutate is not None

        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "http.request" and message.get("body"):
                message["body"] = mutate(message["body"])
            return message

        return wrapped

    def _held(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                await asyncio.to_thread(self.release.wait, 60)
            await send(message)

        return wrapped


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def serve(app: ASGIApp, port: int | None = None) -> Iterator[str]:
    """Run an ASGI app under uvicorn on 127.0.0.1 until the block ends; its base URL."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("receiver did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class Receiver:
    config: ReceiverConfig
    gate: Gate
    url: str = ""

    @property
    def store(self) -> Path:
        return self.config.store

    def packages(self) -> list[str]:
        return sorted(p.name for p in self.store.iterdir() if not p.name.startswith("."))

    def dicom(self, package: str) -> list[bytes]:
        return sorted(p.read_bytes() for p in (self.store / package / "dicom").iterdir())


def make_receiver(store: Path, keys: jwk.JWKSet | None = None, **gate: Any) -> Receiver:
    keyset = keys or keyfile.private_set(keyfile.generate("EC"))
    config = ReceiverConfig(store, keyset, gate.pop("push_token", None))
    return Receiver(config, Gate(create_receiver(config), **gate))


def register(server: LiveServer, body: dict[str, Any]) -> str:
    r = httpx.post(f"{server.url}/phr/recipients", json=body, timeout=30)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def deliver(server: LiveServer, study_uid: str, recipient: str) -> str:
    r = httpx.post(
        f"{server.url}/phr/deliveries", json={"study": study_uid, "recipient": recipient}
    )
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"{server.url}/phr/deliveries/{r.json()['id']}"
    return str(r.json()["id"])


def delivery(
    server: LiveServer, delivery_id: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    r = httpx.get(f"{server.url}/phr/deliveries/{delivery_id}", headers=headers)
    assert r.status_code == 200, r.text
    view: dict[str, Any] = r.json()
    return view


def wait_until(
    server: LiveServer,
    delivery_id: str,
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 30,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view = delivery(server, delivery_id, headers)
        if done(view):
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"delivery did not get there: {view}")
        time.sleep(0.05)


def final(view: dict[str, Any]) -> bool:
    return view["state"] in ("delivered", "failed")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def port_is_closed(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0
