"""Search, read and vread for every registered type, and ``/metadata`` (thin: parse, call, render).

Routes are generated from ``registry.REGISTRY``; database work runs in the thread pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.access.deps import PrincipalDep, require_scope
from app.access.principal import Principal
from app.archive.service import Archive
from app.deps import ArchiveDep
from app.errors import NotAcceptable, NotFound, UnsupportedMediaType
from app.fhir import binary, bundle, capability, formats, visibility
from app.fhir.deps import CompartmentDep, ContextDep
from app.fhir.models import element_names
from app.fhir.registry import REGISTRY
from app.fhir.resource import Compartment, Context, Loaded, ResourceType
from app.fhir.search import MAX_INCLUDED, SearchRequest, parse_search
from smart.discovery import security_extension

router = APIRouter()


def strict_handling(request: Request) -> bool:
    """``Prefer: handling=strict`` asks for errors on unknown parameters (search.html)."""
    prefer = request.headers.get("prefer", "")
    return any(p.strip().replace(" ", "") == "handling=strict" for p in prefer.split(","))


def etag(version: int) -> str:
    return f'W/"{version}"'


def _utc(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def resource_headers(item: Loaded) -> dict[str, str]:
    return {
        "ETag": etag(item.version),
        "Last-Modified": format_datetime(_utc(item.updated), usegmt=True),
    }


@router.get("/metadata")
async def metadata(request: Request, ctx: ContextDep) -> Response:
    media = formats.negotiate(request)
    version = request.app.version
    security = security_extension(request.app.state.smart.config)
    return formats.fhir_response(
        request, capability.capability_statement(ctx, version, security), media_type=media
    )


def run_search(
    archive: Archive,
    resource: ResourceType,
    req: SearchRequest,
    c: Compartment,
    ctx: Context,
    visible: visibility.Visible = lambda _item: True,
) -> dict[str, Any]:
    """One searchset: the page of matches plus includes, all scoped by the compartment and
    the caller's scopes (``visible``)."""
    with Session(archive.engine) as s:
        page = resource.search(s, req, c, ctx)
        page.entries = [e for e in page.entries if visible(e)]
        seen = {(e.type, e.id) for e in page.entries}
        included: list[Loaded] = []
        cut = False
        fetches = [resource.includes[n] for n in req.includes]
        fetches += [resource.revincludes[n] for n in req.revincludes]
        for fetch in fetches:
            budget = MAX_INCLUDED - len(included)
            items = fetch(s, page.entries, c, ctx, budget + 1)
            new = [i for i in items if (i.type, i.id) not in seen and visible(i)]
            cut = cut or len(new) > budget
            for item in new[:budget]:
                seen.add((item.type, item.id))
                included.append(item)
    if req.elements is not None:
        for e in page.entries:
            e.resource = bundle.subset(e.resource, req.elements, resource.mandatory)
    warnings = [f"included resources were cut at {MAX_INCLUDED}"] if cut else []
    return bundle.searchset(ctx, resource.name, req, page, included, warnings)


async def _search(
    request: Request,
    name: str,
    items: list[tuple[str, str]],
    archive: Archive,
    c: Compartment,
    ctx: Context,
    caller: Principal,
) -> Response:
    media = formats.negotiate(request)
    resource = REGISTRY[name][0]
    items = items + visibility.pushed_down(caller, name)
    req = parse_search(
        items, resource.spec(element_names(name)), ctx.fhir, strict_handling(request)
    )
    visible = visibility.visible(caller)
    body = await run_in_threadpool(run_search, archive, resource, req, c, ctx, visible)
    return formats.fhir_response(request, body, media_type=media)


def _read(
    archive: Archive,
    resource: ResourceType,
    rid: str,
    c: Compartment,
    ctx: Context,
    caller: Principal,
) -> Loaded:
    with Session(archive.engine) as s:
        item = resource.read(s, rid, c, ctx)
    if not visibility.visible(caller)(item):
        raise NotFound(f"{resource.name}/{rid} is not known")  # a granular scope excludes it
    return item


def _elements(request: Request, name: str, resource: ResourceType, item: Loaded) -> dict[str, Any]:
    raw = request.query_params.get("_elements")
    if not raw:
        return item.resource
    names = {n.strip() for n in raw.split(",")} & element_names(name)
    return bundle.subset(item.resource, frozenset(names), resource.mandatory)


async def _respond_read(
    request: Request, name: str, item: Loaded, resource: ResourceType
) -> Response:
    headers = resource_headers(item)
    if name == "Binary" and not formats.asks_for_fhir(request):
        return binary_raw(request, item, headers)
    media = formats.negotiate(request)
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    body = _elements(request, name, resource, item)
    return formats.fhir_response(request, body, headers=headers, media_type=media)


def binary_raw(request: Request, item: Loaded, headers: dict[str, str]) -> Response:
    """The stored bytes in their own media type (406 if the Accept list excludes it)."""
    ctype = item.content_type or "application/octet-stream"
    main = ctype.split(";")[0].strip().lower()
    ranges = [r for r in formats.parse_media_ranges(request.headers.get("accept")) if r.q > 0]
    ok = not ranges or any(r.type in ("*/*", main, main.split("/")[0] + "/*") for r in ranges)
    if not ok:
        raise NotAcceptable(f"this Binary is {main}; ask for it or for application/fhir+json")
    headers = {**headers, "X-Content-Type-Options": "nosniff"}
    if main in binary.ACTIVE_TYPES:
        headers["Content-Security-Policy"] = (
            "sandbox; default-src 'none'; style-src 'unsafe-inline'"
        )
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return Response(item.content or b"", media_type=ctype, headers=headers)


Handler = Callable[..., Awaitable[Response]]


def _search_routes(name: str) -> tuple[Handler, Handler]:
    async def search_get(
        request: Request,
        archive: ArchiveDep,
        c: CompartmentDep,
        ctx: ContextDep,
        caller: PrincipalDep,
    ) -> Response:
        items = list(request.query_params.multi_items())
        return await _search(request, name, items, archive, c, ctx, caller)

    async def search_post(
        request: Request,
        archive: ArchiveDep,
        c: CompartmentDep,
        ctx: ContextDep,
        caller: PrincipalDep,
    ) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise UnsupportedMediaType("POST _search takes application/x-www-form-urlencoded")
        form = await request.form()
        items = list(request.query_params.multi_items())
        items += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        return await _search(request, name, items, archive, c, ctx, caller)

    return search_get, search_post


def _read_routes(name: str) -> tuple[Handler, Handler]:
    resource = REGISTRY[name][0]

    async def read(
        request: Request,
        rid: str,
        archive: ArchiveDep,
        c: CompartmentDep,
        ctx: ContextDep,
        caller: PrincipalDep,
    ) -> Response:
        item = await run_in_threadpool(_read, archive, resource, rid, c, ctx, caller)
        return await _respond_read(request, name, item, resource)

    async def vread(
        request: Request,
        rid: str,
        vid: str,
        archive: ArchiveDep,
        c: CompartmentDep,
        ctx: ContextDep,
        caller: PrincipalDep,
    ) -> Response:
        item = await run_in_threadpool(_read, archive, resource, rid, c, ctx, caller)
        if vid != str(item.version):
            raise NotFound(
                f"{name}/{rid} version {vid} is not available (only the current version, "
                f"{item.version}, is kept)"
            )
        return await _respond_read(request, name, item, resource)

    return read, vread


for _name, (_resource, _interactions) in REGISTRY.items():
    # SMART scopes: search needs ``s`` on the type, read and vread ``r`` (v1 ``read`` is both).
    _may_search = [Depends(require_scope(_name, "s"))]
    _may_read = [Depends(require_scope(_name, "r"))]
    if "search-type" in _interactions:
        _get, _post = _search_routes(_name)
        router.add_api_route(
            f"/{_name}", _get, methods=["GET"], name=f"search {_name}", dependencies=_may_search
        )
        router.add_api_route(
            f"/{_name}/_search",
            _post,
            methods=["POST"],
            name=f"_search {_name}",
            dependencies=_may_search,
        )
    _r, _v = _read_routes(_name)
    router.add_api_route(
        f"/{_name}/{{rid}}", _r, methods=["GET"], name=f"read {_name}", dependencies=_may_read
    )
    router.add_api_route(
        f"/{_name}/{{rid}}/_history/{{vid}}",
        _v,
        methods=["GET"],
        name=f"vread {_name}",
        dependencies=_may_read,
    )
