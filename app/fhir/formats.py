"""Media types on the FHIR surface: ``_format``, Accept and Content-Type (FHIR R4 http.html).

We serve JSON only: ``application/fhir+json`` (also ``application/json`` and the old
``application/json+fhir`` a client may ask for). A ``fhirVersion`` media type parameter other
than 4.0 cannot be served (FHIR R4 versioning: 406). XML or Turtle asked for explicitly is 406.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from app.errors import NotAcceptable, UnsupportedMediaType

FHIR_JSON = "application/fhir+json"
JSON_TYPES = frozenset({FHIR_JSON, "application/json", "application/json+fhir"})
_FORMAT_ALIASES = {"json": FHIR_JSON, "application/fhir+json": FHIR_JSON}
FHIR_VERSION = "4.0"


@dataclass(frozen=True)
class MediaRange:
    type: str
    params: Mapping[str, str]
    q: float


def parse_media_ranges(header: str | None) -> list[MediaRange]:
    """Accept header entries in order, with parameters (lower-cased names) and quality."""
    out: list[MediaRange] = []
    for raw in (header or "").split(","):
        parts = [p.strip() for p in raw.split(";")]
        if not parts[0]:
            continue
        params: dict[str, str] = {}
        for p in parts[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                params[k.strip().lower()] = v.strip().strip('"')
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 1.0
        out.append(MediaRange(parts[0].lower(), params, q))
    return out


def _version_ok(params: Mapping[str, str]) -> bool:
    version = params.get("fhirversion")
    return version is None or version.startswith(FHIR_VERSION)


def requested_format(request: Request) -> str | None:
    """The FHIR JSON media type asked for by ``_format``, or None if ``_format`` is absent."""
    fmt = request.query_params.get("_format")
    if fmt is None:
        return None
    base = fmt.split(";")[0].strip().lower()
    if base in JSON_TYPES or base in _FORMAT_ALIASES:
        return _FORMAT_ALIASES.get(base, base)
    raise NotAcceptable(f"_format {fmt!r} is not supported; this server speaks FHIR JSON only")


def accepts_fhir_json(header: str | None) -> bool:
    """Whether an Accept header (absent = anything) allows a FHIR JSON body."""
    ranges = [r for r in parse_media_ranges(header) if r.q > 0]
    if not ranges:
        return True
    for r in ranges:
        if r.type in JSON_TYPES and _version_ok(r.params):
            return True
        if r.type in ("*/*", "application/*"):
            return True
    return False


def negotiate(request: Request) -> str:
    """The media type of a FHIR response, or NotAcceptable (406)."""
    fmt = requested_format(request)
    if fmt is not None:
        return fmt
    accept = request.headers.get("accept")
    if not accepts_fhir_json(accept):
        raise NotAcceptable("this server returns application/fhir+json (FHIR 4.0) only")
    for r in parse_media_ranges(accept):
        if r.type == "application/json" and r.q > 0:
            return "application/json"
    return FHIR_JSON


def asks_for_fhir(request: Request) -> bool:
    """Whether a Binary read should return the resource rather than the raw content."""
    if request.query_params.get("_format") is not None:
        requested_format(request)
        return True
    for r in parse_media_ranges(request.headers.get("accept")):
        if r.q > 0 and r.type in (FHIR_JSON, "application/json+fhir"):
            return True
    return False


def check_content_type(request: Request) -> None:
    """A resource body must be FHIR JSON (415 otherwise)."""
    ctype = request.headers.get("content-type", "")
    ranges = parse_media_ranges(ctype)
    if not ranges or ranges[0].type not in JSON_TYPES or not _version_ok(ranges[0].params):
        raise UnsupportedMediaType(
            f"request body must be {FHIR_JSON} (FHIR 4.0), not {ctype or 'untyped'}"
        )


def dumps(body: Any, pretty: bool = False) -> bytes:
    """UTF-8 JSON (orjson, as the DICOM JSON path uses); ``_pretty`` indents by two."""
    return orjson.dumps(body, option=orjson.OPT_INDENT_2 if pretty else 0)


def fhir_response(
    request: Request,
    body: Any,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    media_type: str | None = None,
) -> Response:
    """A JSON response in the negotiated FHIR media type (``_pretty=true`` indents it)."""
    pretty = request.query_params.get("_pretty", "").lower() == "true"
    return Response(
        dumps(body, pretty),
        status_code=status,
        media_type=(media_type or FHIR_JSON) + "; charset=utf-8",
        headers=dict(headers or {}),
    )
