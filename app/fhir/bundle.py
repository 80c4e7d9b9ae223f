"""Searchset Bundles with working paging links (FHIR R4 bundle.html, search.html#paging).

Paging is by offset over a stable order: ``self`` repeats the parameters the server used
(ignored ones are left out, as search.html asks), ``next``/``previous``/``first`` move the
``_offset``; ``last`` is given only when the total is known. Included resources carry
``search.mode`` include, a warning (e.g. includes cut at the cap) an OperationOutcome entry
with mode outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from app.fhir.outcome import warning
from app.fhir.resource import Context, Loaded, Page, instant
from app.fhir.search import SearchRequest

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}


def page_url(base: str, applied: Sequence[tuple[str, str]], count: int, offset: int) -> str:
    items = [*applied, ("_count", str(count)), ("_offset", str(offset))]
    return f"{base}?{urlencode(items, safe=':|,/')}"


def subset(
    resource: dict[str, Any], elements: frozenset[str], mandatory: frozenset[str]
) -> dict[str, Any]:
    """Keep only the asked elements plus mandatory ones, and tag the result SUBSETTED."""
    keep = elements | mandatory | {"resourceType", "id", "meta"}
    out = {k: v for k, v in resource.items() if k in keep}
    meta = dict(out.get("meta", {}))
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    out["meta"] = meta
    return out


def _links(ctx: Context, rtype: str, req: SearchRequest, page: Page) -> list[dict[str, str]]:
    base = f"{ctx.fhir}/{rtype}"
    applied = [(k, v) for k, v in req.applied if k not in ("_count", "_offset")]
    count = req.count
    links = [{"relation": "self", "url": page_url(base, applied, count, req.offset)}]
    if req.summary_count or count == 0:
        return links
    links.append({"relation": "first", "url": page_url(base, applied, count, 0)})
    if req.offset > 0:
        prev = max(req.offset - count, 0)
        links.append({"relation": "previous", "url": page_url(base, applied, count, prev)})
    if page.more:
        links.append(
            {"relation": "next", "url": page_url(base, applied, count, req.offset + count)}
        )
    if page.total is not None and page.total > 0 and not req.summary_count:
        last = ((page.total - 1) // count) * count
        links.append({"relation": "last", "url": page_url(base, applied, count, last)})
    return links


def _entry(ctx: Context, item: Loaded, mode: str) -> dict[str, Any]:
    return {
        "fullUrl": f"{ctx.fhir}/{item.type}/{item.id}",
        "resource": item.resource,
        "search": {"mode": mode},
    }


def searchset(
    ctx: Context,
    rtype: str,
    req: SearchRequest,
    page: Page,
    included: Sequence[Loaded] = (),
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    entries = [_entry(ctx, e, "match") for e in page.entries]
    entries += [_entry(ctx, e, "include") for e in included]
    for text in warnings:
        entries.append({"resource": warning(text), "search": {"mode": "outcome"}})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": uuid.uuid4().hex,
        "meta": {"lastUpdated": instant(datetime.now(UTC))},
        "type": "searchset",
    }
    if page.total is not None:
        bundle["total"] = page.total
    bundle["link"] = _links(ctx, rtype, req, page)
    if entries:
        bundle["entry"] = entries
    return bundle
