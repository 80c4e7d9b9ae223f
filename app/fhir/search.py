"""Search parameters: parse query values by type and turn them into SQL conditions.

FHIR R4 search.html: repeated parameters are AND, comma-separated values OR; token values are
``[system]|[code]``; references ``id``, ``Type/id`` or an absolute URL on our base; dates take
the prefixes eq/ne/lt/gt/le/ge/sa/eb and are ranges at the precision given; strings match
case- and accent-insensitively at the start of any name part (``:contains`` anywhere).
Malformed values of known parameters are always 400; unknown parameters are ignored unless the
client sent ``Prefer: handling=strict`` (then 400), and ignored ones are left out of ``self``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from app.errors import InvalidInput

DEFAULT_COUNT = 20
MAX_COUNT = 200
#: Most resources one page may carry through _include/_revinclude (FHIR: servers may cap).
MAX_INCLUDED = 200
ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_DATE_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:T(?P<H>\d{2}):(?P<M>\d{2})"
    r"(?::(?P<S>\d{2})(?P<f>\.\d+)?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
DATE_PREFIXES = ("eq", "ne", "lt", "gt", "le", "ge", "sa", "eb")
RESULT_PARAMS = frozenset(
    {"_count", "_offset", "_total", "_summary", "_elements", "_include", "_revinclude"}
)
FORMAT_PARAMS = frozenset({"_format", "_pretty"})


class ParamType(StrEnum):
    TOKEN = "token"
    REFERENCE = "reference"
    DATE = "date"
    STRING = "string"


@dataclass(frozen=True)
class Token:
    """``system|code``: system None means any system, "" means no system; code None any code."""

    system: str | None
    code: str | None


@dataclass(frozen=True)
class Ref:
    type: str | None
    id: str


@dataclass(frozen=True)
class DateValue:
    """A date search value: prefix and the half-open instant range [start, end) it covers."""

    prefix: str
    start: datetime
    end: datetime

    @property
    def first_day(self) -> str:
        return self.start.date().strftime("%Y%m%d")

    @property
    def last_day(self) -> str:
        return (self.end - timedelta(microseconds=1)).date().strftime("%Y%m%d")


#: Builds one condition from the OR-ed values of one parameter occurrence and its modifier.
Builder = Callable[[Sequence[Any], str], Any]


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: ParamType
    description: str
    build: Builder
    modifiers: frozenset[str] = frozenset()
    #: For references: the resource type they point to.
    target: str | None = None


@dataclass
class SearchRequest:
    conditions: list[Any] = field(default_factory=list)
    applied: list[tuple[str, str]] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    total: bool = True
    summary_count: bool = False
    elements: frozenset[str] | None = None
    includes: list[str] = field(default_factory=list)
    revincludes: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def split_values(raw: str) -> list[str]:
    """Comma-separated alternatives; ``\\,`` is a literal comma (search.html#escaping)."""
    parts = re.split(r"(?<!\\),", raw)
    return [p.replace("\\,", ",") for p in parts]


def parse_token(raw: str) -> Token:
    if "|" not in raw:
        return Token(None, raw or None)
    system, code = raw.split("|", 1)
    return Token(system, code or None)


def parse_reference(raw: str, fhir_base: str) -> Ref | None:
    """``id``, ``Type/id`` or ``{our base}/Type/id``; None for a reference to another server."""
    value = raw
    if "://" in value:
        if not value.startswith(fhir_base + "/"):
            return None
        value = value[len(fhir_base) + 1 :]
    parts = value.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) == 1:
        rtype, rid = None, parts[0]
    elif len(parts) == 2:
        rtype, rid = parts
    else:
        raise InvalidInput(f"malformed reference {raw!r}")
    if not ID_RE.match(rid):
        raise InvalidInput(f"malformed reference {raw!r}")
    return Ref(rtype, rid)


def parse_date(raw: str) -> DateValue:
    prefix = raw[:2] if raw[:2].isalpha() else "eq"
    text = raw[2:] if raw[:2].isalpha() else raw
    if prefix not in DATE_PREFIXES:
        raise InvalidInput(f"date prefix {prefix!r} is not supported (use eq, ne, lt, gt, le, ge)")
    m = _DATE_RE.match(text)
    if not m:
        raise InvalidInput(f"malformed date {raw!r}")
    try:
        start, end = _range(m)
    except ValueError:
        raise InvalidInput(f"malformed date {raw!r}") from None
    return DateValue(prefix, start, end)


def _range(m: re.Match[str]) -> tuple[datetime, datetime]:
    g = m.groupdict()
    tz = UTC
    if g["tz"] and g["tz"] != "Z":
        sign = 1 if g["tz"][0] == "+" else -1
        hours, minutes = int(g["tz"][1:3]), int(g["tz"][4:6])
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    y = int(g["y"])
    if g["m"] is None:
        return datetime(y, 1, 1, tzinfo=tz), datetime(y + 1, 1, 1, tzinfo=tz)
    mo = int(g["m"])
    if g["d"] is None:
        start = datetime(y, mo, 1, tzinfo=tz)
        nxt = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=tz)
        return start, nxt
    d = date(y, mo, int(g["d"]))
    if g["H"] is None:
        start = datetime(d.year, d.month, d.day, tzinfo=tz)
        return start, start + timedelta(days=1)
    start = datetime(d.year, d.month, d.day, int(g["H"]), int(g["M"]), int(g["S"] or 0), tzinfo=tz)
    if g["f"]:
        start = start.replace(microsecond=int(float(g["f"]) * 1_000_000))
        return start, start + timedelta(milliseconds=1)
    return start, start + (timedelta(seconds=1) if g["S"] else timedelta(minutes=1))


def parse_text(raw: str) -> str:
    if not raw.strip():
        raise InvalidInput("empty string search value")
    return raw


def parse_count(raw: str, name: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a non-negative integer", name) from None
    if value < 0:
        raise InvalidInput(f"{name} must be a non-negative integer", name)
    return value


def first(items: Mapping[str, list[str]], name: str) -> str | None:
    values = items.get(name)
    return values[-1] if values else None


@dataclass(frozen=True)
class SearchSpec:
    """What a resource type accepts: its parameters, include names and element names."""

    params: Mapping[str, SearchParam]
    includes: frozenset[str]
    revincludes: frozenset[str]
    elements: frozenset[str]


def parse_search(
    items: Sequence[tuple[str, str]], spec: SearchSpec, fhir_base: str, strict: bool
) -> SearchRequest:
    """Turn query items into a ``SearchRequest`` (FHIR R4 search.html)."""
    req = SearchRequest()

    def unknown(what: str) -> None:
        if strict:
            raise InvalidInput(
                f"{what} is not supported (Prefer: handling=strict)", "not-supported"
            )
        req.ignored.append(what)

    for key, raw in items:
        name, _, modifier = key.partition(":")
        if key in FORMAT_PARAMS:
            continue
        if name in RESULT_PARAMS:
            _result_param(req, key, name, modifier, raw, spec, unknown)
            continue
        param = spec.params.get(name)
        if param is None:
            unknown(f"search parameter {key!r}")
            continue
        if modifier and modifier not in param.modifiers:
            raise InvalidInput(f"modifier :{modifier} is not supported on {name!r}", name)
        if raw == "":
            continue  # an empty value is ignored (search.html)
        values = _parse_values(param, raw, modifier, fhir_base)
        req.conditions.append(param.build(values, modifier))
        req.applied.append((key, raw))
    return req


def _parse_values(param: SearchParam, raw: str, modifier: str, fhir_base: str) -> list[Any]:
    values = split_values(raw)
    try:
        if param.type == ParamType.TOKEN or modifier == "identifier":
            return [parse_token(v) for v in values]
        if param.type == ParamType.REFERENCE:
            return [parse_reference(v, fhir_base) for v in values]
        if param.type == ParamType.DATE:
            return [parse_date(v) for v in values]
        return [parse_text(v) for v in values]
    except InvalidInput as exc:
        raise InvalidInput(f"{param.name}: {exc.message}", param.name) from None


def _result_param(
    req: SearchRequest,
    key: str,
    name: str,
    modifier: str,
    raw: str,
    spec: SearchSpec,
    unknown: Callable[[str], None],
) -> None:
    if modifier:
        unknown(f"{key!r}")
        return
    if name == "_count":
        req.count = min(parse_count(raw, name), MAX_COUNT)
    elif name == "_offset":
        req.offset = parse_count(raw, name)
    elif name == "_total":
        if raw not in ("none", "estimate", "accurate"):
            raise InvalidInput("_total must be none, estimate or accurate", name)
        req.total = raw != "none"
    elif name == "_summary":
        _summary(req, raw, unknown)
    elif name == "_elements":
        _elements(req, raw, spec, unknown)
    else:
        _include(req, name, raw, spec, unknown)
        return
    req.applied.append((key, raw))


def _summary(req: SearchRequest, raw: str, unknown: Callable[[str], None]) -> None:
    if raw == "count":
        req.summary_count = True
    elif raw not in ("false", "data"):  # we emit no narrative, so data == false
        unknown(f"_summary={raw}")


def _elements(
    req: SearchRequest, raw: str, spec: SearchSpec, unknown: Callable[[str], None]
) -> None:
    names = {n.strip() for n in raw.split(",") if n.strip()}
    for bad in sorted(names - spec.elements):
        unknown(f"element {bad!r} in _elements")
    req.elements = frozenset(names & spec.elements)


def _include(
    req: SearchRequest, name: str, raw: str, spec: SearchSpec, unknown: Callable[[str], None]
) -> None:
    allowed = spec.includes if name == "_include" else spec.revincludes
    target = req.includes if name == "_include" else req.revincludes
    canonical = ":".join(raw.split(":")[:2])  # a third part names the target type
    if canonical not in allowed:
        unknown(f"{name}={raw}")
        return
    if canonical not in target:
        target.append(canonical)
        req.applied.append((name, raw))
