"""QIDO-RS search (PS3.18 §10.6) at every level and path.

Unknown query parameters are ignored (PS3.18 §8.3.4); a malformed value of a known one is a
400 naming it; no match is 204; a truncated answer carries a ``Warning: 299`` header.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.access.deps import ImagingSearch
from app.archive import dicomjson
from app.archive.compartment import Compartment
from app.archive.matching import KEYS
from app.archive.query import SearchRequest, SearchResult, search
from app.config import Settings
from app.deps import ArchiveDep, SettingsDep
from app.dicomweb import media
from app.errors import InvalidInput, NotAcceptable

router = APIRouter()
_CONTROL = {"limit", "offset", "fuzzymatching", "includefield"}


@dataclass
class ParsedQuery:
    request: SearchRequest
    warnings: list[str] = field(default_factory=list)
    capped: bool = False


def _int_param(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name}: {raw!r} is not a non-negative integer", name) from exc
    if value < 0:
        raise InvalidInput(f"{name}: {raw!r} is not a non-negative integer", name)
    return value


def _includefield(raw: str, req: SearchRequest) -> None:
    for item in (v.strip() for v in raw.split(",")):
        if not item:
            continue
        if item == "all":
            req.include_all = True
            continue
        tag = dicomjson.parse_tag(item)
        if tag is None:
            raise InvalidInput(
                f"includefield: {item!r} is not a DICOM keyword or tag", "includefield"
            )
        req.include.add(int(tag))


def parse_query(items: list[tuple[str, str]], level: str, settings: Settings) -> ParsedQuery:
    """Turn query parameters into a SearchRequest, validating the control parameters."""
    parsed = ParsedQuery(SearchRequest(level=level, limit=settings.qido_max_results))
    req = parsed.request
    for name, value in items:
        if name == "limit":
            limit = _int_param(name, value)
            parsed.capped = limit > settings.qido_max_results
            req.limit = min(limit, settings.qido_max_results)
        elif name == "offset":
            req.offset = _int_param(name, value)
        elif name == "fuzzymatching":
            if value.lower() not in ("true", "false"):
                raise InvalidInput("fuzzymatching must be true or false", name)
            req.fuzzy = value.lower() == "true"
        elif name == "includefield":
            _includefield(value, req)
        else:
            _matching_key(parsed, name, value)
    return parsed


def _matching_key(parsed: ParsedQuery, name: str, value: str) -> None:
    tag = dicomjson.parse_tag(name)
    if tag is None:
        return  # not a DICOM attribute: unknown parameters are ignored (PS3.18 §8.3.4)
    keyword = dicomjson.keyword(int(tag))
    if keyword in KEYS:
        parsed.request.matches.append((keyword, value))
        return
    parsed.request.include.add(int(tag))  # still a return key
    if value:
        parsed.warnings.append(f"{keyword} is not supported as a matching key; it was ignored")


def _check_accept(accept: str | None) -> None:
    for rng in media.parse_accept(accept):
        if rng.matches(media.DICOM_JSON) or rng.matches(media.JSON):
            return
    raise NotAcceptable("QIDO-RS results are available as application/dicom+json")


async def _qido(
    request: Request,
    archive: ArchiveDep,
    settings: SettingsDep,
    level: str,
    compartment: Compartment,
    study: str | None = None,
    series: str | None = None,
) -> Response:
    _check_accept(request.headers.get("accept"))
    parsed = parse_query(list(request.query_params.multi_items()), level, settings)
    parsed.request.study, parsed.request.series = study, series

    def run() -> SearchResult:
        with Session(archive.engine) as s:
            return search(s, parsed.request, settings.base_url, compartment)

    result = await run_in_threadpool(run)
    warnings = list(parsed.warnings)
    if result.more:
        reason = (
            "the server's maximum"
            if parsed.capped or "limit" not in request.query_params
            else "the requested limit"
        )
        warnings.append(
            f"The number of results exceeded {reason}; additional results can be "
            "requested with offset"
        )
    headers = [("Warning", f'299 imageshare: "{w}"') for w in warnings]
    if not result.objects:
        response = Response(status_code=204)
    else:
        body = dicomjson.dumps(result.objects)
        response = Response(body, media_type=media.DICOM_JSON)
    for name, value in headers:
        response.headers.append(name, value)
    return response


@router.get("/studies")
async def search_studies(
    request: Request, archive: ArchiveDep, settings: SettingsDep, caller: ImagingSearch
) -> Response:
    return await _qido(request, archive, settings, "study", caller.compartment)


@router.get("/series")
async def search_all_series(
    request: Request, archive: ArchiveDep, settings: SettingsDep, caller: ImagingSearch
) -> Response:
    return await _qido(request, archive, settings, "series", caller.compartment)


@router.get("/instances")
async def search_all_instances(
    request: Request, archive: ArchiveDep, settings: SettingsDep, caller: ImagingSearch
) -> Response:
    return await _qido(request, archive, settings, "instance", caller.compartment)


@router.get("/studies/{study}/series")
async def search_series(
    study: str, request: Request, archive: ArchiveDep, settings: SettingsDep, caller: ImagingSearch
) -> Response:
    return await _qido(request, archive, settings, "series", caller.compartment, study)


@router.get("/studies/{study}/instances")
async def search_study_instances(
    study: str, request: Request, archive: ArchiveDep, settings: SettingsDep, caller: ImagingSearch
) -> Response:
    return await _qido(request, archive, settings, "instance", caller.compartment, study)


@router.get("/studies/{study}/series/{series}/instances")
async def search_instances(
    study: str,
    series: str,
    request: Request,
    archive: ArchiveDep,
    settings: SettingsDep,
    caller: ImagingSearch,
) -> Response:
    return await _qido(request, archive, settings, "instance", caller.compartment, study, series)
