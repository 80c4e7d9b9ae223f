"""The push side of an example PHR: a FastAPI app Image Share delivers packages to.

``POST /deliveries`` takes the ``multipart/related`` body (root part: the manifest; other
parts: one compact JWE each, named by ``Content-ID``), decrypts and verifies every file as it
arrives (one part in memory at a time) and stores the package atomically. Answers, which
Image Share's outbox acts on:

- 200 ``{"status": "stored"}`` — kept; 200 ``{"status": "duplicate"}`` — this delivery id is
  already stored (a retry after a lost answer): nothing is stored twice;
- 400 — the package is broken or tampered with (Image Share stops and shows the reason);
- 401 — wrong push token; 415 — not a package. A 5xx (or no answer) makes Image Share retry.

``GET /.well-known/jwks.json`` publishes the public keys for registration by ``jwks_uri``.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from jwcrypto import jwk
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from examples.phr_receiver.keys import public_jwks
from examples.phr_receiver.unpack import Duplicate, PackageError, Unpacker

logger = logging.getLogger(__name__)


@dataclass
class ReceiverConfig:
    store: Path
    keys: jwk.JWKSet
    #: The bearer token Image Share must present (registered there as the push token).
    push_token: str | None = None
    #: Every request's outcome, newest last (for operators and tests).
    log: list[dict[str, Any]] = field(default_factory=list)


class _Parts:
    """Collects multipart parts; each finished part is (headers, bytes)."""

    def __init__(self, boundary: bytes) -> None:
        self.done: list[tuple[dict[str, str], bytes]] = []
        self._headers: dict[str, str] = {}
        self._field = self._value = b""
        self._body = bytearray()
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": lambda d, s, e: self._add("_field", d[s:e]),
                "on_header_value": lambda d, s, e: self._add("_value", d[s:e]),
                "on_header_end": self._header_end,
                "on_part_data": lambda d, s, e: self._body.extend(d[s:e]),
                "on_part_end": self._end,
            },
        )

    def _add(self, name: str, data: bytes) -> None:
        setattr(self, name, getattr(self, name) + data)

    def _begin(self) -> None:
        self._headers, self._body = {}, bytearray()

    def _header_end(self) -> None:
        name = self._field.decode("latin-1").strip().lower()
        self._headers[name] = self._value.decode("latin-1").strip()
        self._field = self._value = b""

    def _end(self) -> None:
        self.done.append((self._headers, bytes(self._body)))
        self._body = bytearray()


def create_receiver(config: ReceiverConfig) -> FastAPI:
    app = FastAPI(title="Example PHR receiver (Image Share packages)")
    app.state.config = config
    config.store.mkdir(parents=True, exist_ok=True)

    @app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        return public_jwks(config.keys)

    @app.get("/packages")
    async def packages() -> list[str]:
        return sorted(p.name for p in config.store.iterdir() if not p.name.startswith("."))

    @app.post("/deliveries")
    async def receive(request: Request) -> JSONResponse:
        delivery = request.headers.get("idempotency-key", "")
        status, body = await _receive(request, config)
        config.log.append({"delivery": delivery, "status": status, "body": body})
        return JSONResponse(body, status_code=status)

    return app


Answer = tuple[int, dict[str, Any]]


def _error(status: int, message: str) -> Answer:
    return status, {"error": message}


async def _receive(request: Request, config: ReceiverConfig) -> Answer:
    if config.push_token is not None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(given.encode(), config.push_token.encode()):
            return _error(401, "wrong or missing push token")
    media, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if media != b"multipart/related" or not boundary:
        return _error(415, "expected multipart/related with a boundary")
    unpacker = Unpacker(config.store, config.keys)
    key = request.headers.get("idempotency-key", "")
    if key and unpacker.already_stored(key):
        return 200, {"status": "duplicate", "id": key}
    try:
        stored = await _unpack(request, boundary, unpacker, key)
    except Duplicate:
        return 200, {"status": "duplicate", "id": unpacker.package_id}
    except ClientDisconnect:
        # the sender went away mid-body (it will retry): nothing was kept
        return _error(400, "the request body was cut off")
    except PackageError as exc:
        logger.warning("refused a package: %s", exc)
        return _error(400, str(exc))
    finally:
        unpacker.discard()
    files = len(unpacker.manifest["files"])
    return 200, {"status": "stored", "id": stored.name, "files": files}


async def _unpack(request: Request, boundary: bytes, unpacker: Unpacker, key: str) -> Path:
    parts = _Parts(boundary)
    locations: dict[str, int] = {}
    async for chunk in request.stream():
        try:
            parts.parser.write(chunk)
        except Exception as exc:
            raise PackageError("malformed multipart body") from exc
        while parts.done:
            headers, body = parts.done.pop(0)
            if not unpacker.manifest:
                locations = await run_in_threadpool(_start, unpacker, body, key)
                continue
            cid = headers.get("content-id", "").strip("<>")
            if f"cid:{cid}" not in locations:
                raise PackageError("a part is not listed in the manifest")
            await run_in_threadpool(unpacker.add, locations[f"cid:{cid}"], body)
    if not unpacker.manifest:
        raise PackageError("the body has no manifest")
    return await run_in_threadpool(unpacker.finish)


def _start(unpacker: Unpacker, body: bytes, key: str) -> dict[str, int]:
    try:
        manifest = json.loads(body)
    except ValueError as exc:
        raise PackageError("the manifest is not JSON") from exc
    if not isinstance(manifest, dict):
        raise PackageError("the manifest is not a JSON object")
    if key and manifest.get("id") != key:
        raise PackageError("Idempotency-Key and manifest id differ")
    unpacker.start(manifest)
    return {str(e.get("location")): i for i, e in enumerate(manifest["files"])}
