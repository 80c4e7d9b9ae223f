"""``minimumId`` (the response holds at least a fixture's content) and ``navigationLinks``."""

from __future__ import annotations

from typing import Any

from conformance.operators import Verdict

#: Server-assigned bookkeeping that a minimum fixture cannot predict.
IGNORED = frozenset({"meta"})

__all__ = ["minimum_content", "navigation_links"]


def _contains(spec: Any, actual: Any, path: str, misses: list[str]) -> bool:
    if isinstance(spec, dict):
        if not isinstance(actual, dict):
            misses.append(path or "(root)")
            return False
        ok = True
        for key, value in spec.items():
            if not path and key in IGNORED:
                continue
            ok = _contains(value, actual.get(key), f"{path}.{key}" if path else key, misses) and ok
        return ok
    if isinstance(spec, list):
        if not isinstance(actual, list):
            misses.append(path)
            return False
        remaining = list(actual)
        ok = True
        for i, item in enumerate(spec):
            match = next((a for a in remaining if _contains(item, a, "", [])), None)
            if match is None:
                misses.append(f"{path}[{i}]")
                ok = False
            else:
                remaining.remove(match)
        return ok
    if spec != actual:
        misses.append(path)
        return False
    return True


def minimum_content(minimum: dict[str, Any], actual: Any) -> Verdict:
    """Every element and value of ``minimum`` (except ``meta``) is in ``actual``.

    Repeating elements match in any order, each actual item used once (as Touchstone does).
    """
    misses: list[str] = []
    if _contains(minimum, actual, "", misses):
        return Verdict(True, "the response contains the minimum fixture's content")
    shown = ", ".join(misses[:10]) + (" …" if len(misses) > 10 else "")
    return Verdict(False, f"minimum content missing or different at: {shown}")


def navigation_links(bundle: Any, wanted: bool) -> Verdict:
    """``true``: a Bundle with first, last and next links (a page of a longer result, as the
    fhir-crucible engine checks); ``false``: a Bundle with neither next nor previous links."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return Verdict(False, "navigationLinks: the response is not a Bundle")
    relations = {str(link.get("relation")) for link in bundle.get("link") or []}
    if wanted:
        missing = sorted({"first", "last", "next"} - relations)
        if missing:
            return Verdict(False, f"navigationLinks: Bundle lacks {', '.join(missing)} link(s)")
        return Verdict(True, "navigationLinks: first, last and next links present")
    extra = sorted(relations & {"next", "previous", "prev"})
    if extra:
        return Verdict(False, f"navigationLinks false: Bundle has {', '.join(extra)} link(s)")
    return Verdict(True, "navigationLinks false: no next/previous links")
