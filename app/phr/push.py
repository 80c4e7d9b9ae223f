"""The push body: a ciphertext spool written once, then POSTed (and re-POSTed on retry) as is.

Format (docs/phr-package.md, "Push"): ``multipart/related; type="application/json"``
(RFC 2387) whose root part is the manifest and whose other parts are the files, each one
compact JWE (``application/jose``) with a ``Content-ID`` the manifest's ``location`` names as a
``cid:`` URL (RFC 2392). The spool holds only the manifest (no patient data, no UIDs) and
ciphertext; it is made durable and renamed into place before the job moves to ``sending``, so a
restart resends the same bytes rather than encrypting again. The delivery id travels in the
manifest and in an ``Idempotency-Key`` header, so the receiver can ignore repeats.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO, Literal

import httpx

from app.phr.models import utcnow
from app.phr.package import PlannedFile

CHUNK = 1024 * 1024
Heartbeat = Callable[[], None]


@dataclass(frozen=True)
class Spool:
    path: Path
    content_type: str
    size: int


def content_id(index: int, package_id: str) -> str:
    return f"file{index}@{package_id}.imageshare"


def write_spool(
    path: Path,
    manifest: bytes,
    files: Iterable[tuple[PlannedFile, bytes]],
    package_id: str,
    heartbeat: Heartbeat,
) -> Spool:
    """Write the whole multipart body to ``path`` durably (temp file, fsync, rename)."""
    boundary = f"imageshare-{secrets.token_hex(16)}"
    temp = path.with_suffix(".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(temp, "wb") as out:
        _part(out, boundary, "application/json", f"manifest@{package_id}.imageshare", manifest)
        for i, (_f, jwe) in enumerate(files):
            _part(out, boundary, "application/jose", content_id(i, package_id), jwe)
            heartbeat()
        out.write(f"--{boundary}--\r\n".encode())
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)
    _fsync_dir(path.parent)
    content_type = f'multipart/related; type="application/json"; boundary="{boundary}"'
    return Spool(path, content_type, path.stat().st_size)


def _part(out: BinaryIO, boundary: str, media: str, cid: str, body: bytes) -> None:
    head = f"--{boundary}\r\nContent-Type: {media}\r\nContent-ID: <{cid}>\r\n\r\n"
    out.write(head.encode("ascii"))
    out.write(body)
    out.write(b"\r\n")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class SendResult:
    outcome: Literal["delivered", "retry", "failed"]
    status: int | None
    detail: str
    retry_after: float | None = None


def send_spool(
    endpoint: str,
    spool: Spool,
    delivery_id: str,
    push_token: str | None,
    timeout: float,
    heartbeat: Heartbeat,
) -> SendResult:
    """POST the spool; classify the answer: 2xx delivered; 408/425/429/5xx and network
    errors retried; any other status (4xx, or a redirect, which is not followed) fails."""
    headers = {
        "Content-Type": spool.content_type,
        "Content-Length": str(spool.size),
        "Idempotency-Key": delivery_id,
        "Accept": "application/json",
    }
    if push_token:
        headers["Authorization"] = f"Bearer {push_token}"
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(endpoint, content=_read(spool.path, heartbeat), headers=headers)
    except httpx.TransportError as exc:
        return SendResult("retry", None, f"network error ({type(exc).__name__})")
    return classify(response)


def classify(response: httpx.Response) -> SendResult:
    status = response.status_code
    text = _printable(response.text)
    if 200 <= status < 300:
        return SendResult("delivered", status, text or "accepted")
    if status in (408, 425, 429) or status >= 500:
        return SendResult("retry", status, text, _retry_after(response))
    return SendResult("failed", status, text or "refused by the receiver")


def _read(path: Path, heartbeat: Heartbeat) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            heartbeat()
            yield chunk


def _printable(text: str, limit: int = 300) -> str:
    """A receiver's message, made safe to store and show: one line, bounded."""
    return re.sub(r"[^\x20-\x7e]+", " ", text).strip()[:limit]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None
