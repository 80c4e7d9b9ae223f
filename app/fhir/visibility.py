"""What a caller's SMART scopes let it see among resources already inside its compartment.

The compartment (``deps.CompartmentDep``) decides *whose* resources; this decides *which kinds*:
an ``_include``/``_revinclude`` never returns a type the token has no read scope for, and
granular scopes such as ``patient/DocumentReference.rs?category=…`` (SMART App Launch 2.x
"Finer-grained resource constraints") limit DocumentReference searches, reads and includes to
matching documents. Filters are pushed into the SQL search where they map onto one search
parameter, and always checked again on the loaded resources.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.access.principal import Principal
from app.fhir.resource import Loaded

Visible = Callable[[Loaded], bool]
#: Granular filter parameters we can check on a loaded DocumentReference.
_CHECKED = {"category", "type", "status"}


def _codes(value: Any) -> set[str]:
    """``code`` and ``system|code`` forms of every coding in a CodeableConcept (or list)."""
    concepts = value if isinstance(value, list) else [value]
    out: set[str] = set()
    for concept in concepts:
        for coding in (concept or {}).get("coding", []):
            code = coding.get("code")
            if code:
                out.add(code)
                out.add(f"{coding.get('system', '')}|{code}")
    return out


def _matches(resource: dict[str, Any], wanted: dict[str, str]) -> bool:
    for param, value in wanted.items():
        if param not in _CHECKED:
            return False  # a filter we cannot check grants nothing
        if param == "status":
            if resource.get("status") != value:
                return False
        elif value not in _codes(resource.get(param)):
            return False
    return True


def document_allowed(resource: dict[str, Any], filters: list[dict[str, str]] | None) -> bool:
    """Whether one DocumentReference passes the caller's granular filters (any of them)."""
    return filters is None or any(_matches(resource, f) for f in filters)


def visible(caller: Principal) -> Visible:
    """Predicate for loaded resources (matches and includes) under the caller's scopes."""
    doc_filters = caller.filters("DocumentReference", "r")

    def check(item: Loaded) -> bool:
        rtype = str(item.resource.get("resourceType", ""))
        if not caller.can(rtype, "r") and not caller.can(rtype, "s"):
            return False
        if rtype == "DocumentReference":
            return document_allowed(item.resource, doc_filters)
        return True

    return check


def pushed_down(caller: Principal, name: str) -> list[tuple[str, str]]:
    """Extra search parameters that apply a granular filter in SQL (one shared parameter,
    values ORed with a comma); empty when there is nothing to push or it does not map."""
    if name != "DocumentReference":
        return []
    filters = caller.filters("DocumentReference", "s")
    if not filters:
        return []
    params = {p for f in filters for p in f}
    if len(params) != 1 or any(len(f) != 1 for f in filters):
        return []
    [param] = params
    return [(param, ",".join(f[param] for f in filters))]
