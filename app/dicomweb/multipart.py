"""Streaming multipart/related reading (python-multipart's parser) and writing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, MultipartState

from app.errors import InvalidInput


@dataclass
class Part:
    headers: dict[str, str] = field(default_factory=dict)


class MultipartReader:
    """Feed body chunks; calls ``on_part_start(headers)`` / ``on_data`` / ``on_part_end``.

    The body is never held in memory: each chunk goes to the current part's sink as it arrives.
    """

    def __init__(
        self,
        boundary: str,
        on_part_start: Callable[[dict[str, str]], None],
        on_data: Callable[[bytes], None],
        on_part_end: Callable[[], None],
    ) -> None:
        self._headers: dict[str, str] = {}
        self._field = b""
        self._value = b""
        self.parts = 0
        self._on_part_start = on_part_start
        self._on_data = on_data
        self._on_part_end = on_part_end
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done,
                "on_part_data": self._data,
                "on_part_end": self._end,
            },
        )

    def _begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        name = self._field.decode("latin-1").strip().lower()
        self._headers[name] = self._value.decode("latin-1").strip()
        self._field = self._value = b""

    def _headers_done(self) -> None:
        self.parts += 1
        self._on_part_start(self._headers)

    def _data(self, data: bytes, start: int, end: int) -> None:
        self._on_data(data[start:end])

    def _end(self) -> None:
        self._on_part_end()

    def feed(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except Exception as exc:
            raise InvalidInput(f"malformed multipart body: {exc}", "body") from exc

    def close(self) -> None:
        if self._parser.state != MultipartState.END:
            raise InvalidInput("malformed multipart body: missing closing boundary", "body")


def new_boundary() -> str:
    return uuid.uuid4().hex


async def frame_parts(
    boundary: str,
    parts: AsyncIterator[tuple[str, AsyncIterator[bytes]]],
) -> AsyncIterator[bytes]:
    """Wrap (content type, byte stream) parts in multipart/related framing (CRLF only)."""
    delim = f"--{boundary}\r\n".encode()
    first = True
    async for content_type, body in parts:
        yield (b"" if first else b"\r\n") + delim + f"Content-Type: {content_type}\r\n\r\n".encode()
        first = False
        async for chunk in body:
            yield chunk
    if first:
        yield f"--{boundary}--\r\n".encode()
    else:
        yield f"\r\n--{boundary}--\r\n".encode()
