"""Media types: Content-Type and Accept parsing for PS3.18 negotiation.

Parameter names are case-insensitive, values may be quoted or not, order is free and extra
parameters may appear (RFC 2046, PS3.18 §8.7); commas inside quoted values do not split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DICOM = "application/dicom"
DICOM_JSON = "application/dicom+json"
JSON = "application/json"
MULTIPART_RELATED = "multipart/related"
OCTET_STREAM = "application/octet-stream"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"


@dataclass
class MediaType:
    type: str
    params: dict[str, str] = field(default_factory=dict)
    q: float = 1.0

    @property
    def related_type(self) -> str:
        """The ``type`` parameter of a multipart/related media type, lower-cased."""
        return self.params.get("type", "").lower()

    def matches(self, candidate: str) -> bool:
        """Whether this (possibly wildcard) range accepts ``candidate``."""
        if self.type in ("*/*", candidate):
            return True
        major = candidate.split("/", 1)[0]
        return self.type == f"{major}/*"


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside double quotes."""
    out: list[str] = []
    buf: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    out.append("".join(buf))
    return [p.strip() for p in out if p.strip()]


def parse_media_type(value: str) -> MediaType:
    parts = _split(value, ";")
    if not parts:
        return MediaType("")
    mtype = parts[0].lower()
    params: dict[str, str] = {}
    q = 1.0
    for p in parts[1:]:
        name, _, val = p.partition("=")
        name = name.strip().lower()
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1].replace('\\"', '"')
        if name == "q":
            try:
                q = float(val)
            except ValueError:
                q = 0.0
        else:
            params[name] = val
    return MediaType(mtype, params, q)


def parse_accept(header: str | None) -> list[MediaType]:
    """Accept header entries, highest quality first (stable for ties)."""
    if not header:
        return [MediaType("*/*")]
    entries = [parse_media_type(p) for p in _split(header, ",")]
    entries = [e for e in entries if e.type and e.q > 0]
    return sorted(entries, key=lambda e: -e.q)
