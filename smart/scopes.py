"""SMART App Launch scopes, v1 and v2 ("SMART App Launch: Scopes and Launch Context").

Clinical scopes are ``context/Resource.permissions[?param=value&...]``: context is ``patient``,
``user`` or ``system``; ``Resource`` a FHIR type or ``*``; permissions v1 ``read``, ``write``
or ``*``, v2 a subset of ``cruds`` in that order. v1 ``read`` means v2 ``rs`` and ``write``
means ``cud``. Granular ``?param=value`` filters exist only in v2. Everything else we accept
is a fixed word (``openid``, ``fhirUser``, ``offline_access``, ``online_access``, ``launch``)
or a launch-context request (``launch/patient``, ``launch/imagingstudy``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl

V2_ORDER = "cruds"
V1_PERMS = {"read": frozenset("rs"), "write": frozenset("cud"), "*": frozenset("cruds")}
CONTEXTS = ("patient", "user", "system")
WORDS = {"openid", "fhirUser", "profile", "offline_access", "online_access", "launch"}
#: Launch-context scopes this server can fill (SMART: "Scopes for requesting context data").
LAUNCH_CONTEXTS = {"launch/patient", "launch/imagingstudy"}

_CLINICAL = re.compile(
    r"^(?P<context>patient|user|system)/(?P<resource>\*|[A-Z][A-Za-z]{1,63})"
    r"\.(?P<perms>read|write|\*|[cruds]{1,5})(?:\?(?P<query>[^\s?]+))?$"
)


class InvalidScope(ValueError):
    """A scope string that is not a SMART scope this server understands."""


@dataclass(frozen=True)
class ClinicalScope:
    context: str
    resource: str
    perms: frozenset[str]
    filters: tuple[tuple[str, str], ...]
    version: int
    raw: str

    def covers(self, other: ClinicalScope) -> bool:
        """Whether this scope grants everything ``other`` asks for (same or narrower)."""
        if self.context != other.context:
            return False
        if self.resource not in ("*", other.resource):
            return False
        if not other.perms <= self.perms:
            return False
        return not self.filters or set(self.filters) <= set(other.filters)

    def allows(self, resource: str, perm: str) -> bool:
        return self.resource in ("*", resource) and perm in self.perms


def _parse_clinical(scope: str) -> ClinicalScope | None:
    m = _CLINICAL.match(scope)
    if m is None:
        return None
    raw_perms = m["perms"]
    if raw_perms in V1_PERMS:
        if m["query"]:
            raise InvalidScope(f"{scope}: filters need v2 permissions")
        return ClinicalScope(m["context"], m["resource"], V1_PERMS[raw_perms], (), 1, scope)
    positions = [V2_ORDER.index(p) for p in raw_perms]
    if positions != sorted(set(positions)):
        raise InvalidScope(f"{scope}: v2 permissions must be in the order c, r, u, d, s")
    filters: tuple[tuple[str, str], ...] = ()
    if m["query"]:
        try:
            pairs = parse_qsl(m["query"], strict_parsing=True)
        except ValueError as exc:
            raise InvalidScope(f"{scope}: malformed filter") from exc
        filters = tuple(sorted(pairs))
    return ClinicalScope(m["context"], m["resource"], frozenset(raw_perms), filters, 2, scope)


_LAUNCH_WORD = re.compile(r"^launch/[a-z]{2,64}$")


def validate(scope: str) -> ClinicalScope | None:
    """Check one scope; returns its clinical form, or ``None`` for a non-clinical word.

    Any ``launch/<type>`` is accepted as a context request (SMART lets EHRs extend the list);
    only those in ``LAUNCH_CONTEXTS`` are ever filled.
    """
    if scope in WORDS or _LAUNCH_WORD.match(scope):
        return None
    clinical = _parse_clinical(scope)
    if clinical is None:
        raise InvalidScope(f"unknown scope {scope!r}")
    return clinical


def split(scope: str | None) -> list[str]:
    """A scope string as a list, duplicates removed, order kept."""
    return list(dict.fromkeys((scope or "").split()))


def clinical(scopes: Iterable[str]) -> list[ClinicalScope]:
    """The clinical scopes among ``scopes`` (unknown ones are skipped, not raised)."""
    out = []
    for s in scopes:
        try:
            parsed = validate(s)
        except InvalidScope:
            continue
        if parsed is not None:
            out.append(parsed)
    return out


def permits(
    scopes: Iterable[ClinicalScope], resource: str, perm: str, contexts: Iterable[str]
) -> bool:
    """Whether any scope in an allowed context grants ``perm`` on ``resource``."""
    allowed = set(contexts)
    return any(s.context in allowed and s.allows(resource, perm) for s in scopes)


def filters_for(
    scopes: Iterable[ClinicalScope], resource: str, perm: str, contexts: Iterable[str]
) -> list[dict[str, str]] | None:
    """Granular filters that limit ``perm`` on ``resource``: ``None`` means unfiltered.

    Several matching scopes widen access (SMART: scopes are additive), so one unfiltered
    scope makes the whole answer unfiltered; otherwise the caller must OR the filters.
    """
    allowed = set(contexts)
    found: list[dict[str, str]] = []
    for s in scopes:
        if s.context in allowed and s.allows(resource, perm):
            if not s.filters:
                return None
            found.append(dict(s.filters))
    return found


def covered(requested: str, granted: Iterable[str]) -> bool:
    """Whether the scope ``requested`` is within the ``granted`` ones (for narrowing)."""
    granted = list(granted)
    if requested in granted:
        return True
    try:
        want = validate(requested)
    except InvalidScope:
        return False
    if want is None:
        return False
    return any(have.covers(want) for have in clinical(granted))


def narrow(requested: Iterable[str], allowed: Iterable[str]) -> list[str]:
    """The requested scopes that ``allowed`` covers, in request order."""
    allowed = list(allowed)
    return [s for s in requested if covered(s, allowed)]
