"""STOW-RS: ``POST /dicomweb/studies[/{study}]`` (PS3.18 §10.5).

The body is streamed part by part into temporary blobs; the archive then stores each instance
and reports it in the Store Instances Response Module: 200 all stored, 202 some failed or
warned, 409 none stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app.access.deps import ImagingCreate
from app.archive.blobs import TempBlob
from app.archive.ingest import Prepared
from app.archive.status import StoreResult
from app.deps import ArchiveDep, SettingsDep
from app.dicomweb import media
from app.dicomweb.multipart import MultipartReader
from app.errors import InvalidInput, UnsupportedMediaType
from app.urls import instance_path, study_path

logger = logging.getLogger(__name__)
router = APIRouter()


@router.post("/studies")
async def store_instances(
    request: Request, archive: ArchiveDep, settings: SettingsDep, caller: ImagingCreate
) -> Response:
    return await _stow(request, archive, settings, None)


@router.post("/studies/{study}")
async def store_study_instances(
    study: str, request: Request, archive: ArchiveDep, settings: SettingsDep, caller: ImagingCreate
) -> Response:
    return await _stow(request, archive, settings, study)


async def _stow(
    request: Request, archive: ArchiveDep, settings: SettingsDep, study: str | None
) -> Response:
    boundary = _check_content_type(request.headers.get("content-type", ""))
    ingestor = archive.ingestor

    def prepare(temp: TempBlob) -> Prepared | StoreResult:
        return ingestor.prepare(temp, study)

    items = await _receive_parts(request, archive.store.new_temp, boundary, prepare)
    results = await run_in_threadpool(ingestor.commit, items)
    status, body = store_response(results, settings.base_url, study)
    response = Response(body, status_code=status, media_type=media.DICOM_JSON)
    for reason in _reasons(results):
        response.headers.append("Warning", f'299 imageshare: "{reason}"')
    return response


def _reasons(results: list[StoreResult]) -> list[str]:
    """Distinct readable failure reasons, for the Warning header (PS3.18 §8.10.3)."""
    seen: dict[str, None] = {}
    for r in results:
        if r.failed and r.reason:
            text = r.reason.replace('"', "'")
            uid = f" ({r.sop_instance_uid})" if r.sop_instance_uid else ""
            seen.setdefault(f"{r.status:04X}{uid}: {text}"[:300], None)
    return list(seen)[:20]


def _check_content_type(value: str) -> str:
    ctype = media.parse_media_type(value)
    if ctype.type != media.MULTIPART_RELATED:
        given = ctype.type or "no Content-Type"
        raise UnsupportedMediaType(
            f'STOW-RS takes multipart/related; type="application/dicom", not {given}'
        )
    if ctype.related_type not in ("", media.DICOM):
        raise UnsupportedMediaType(
            f"unsupported multipart/related type {ctype.related_type!r}; "
            "this server accepts application/dicom parts"
        )
    boundary = ctype.params.get("boundary")
    if not boundary:
        raise InvalidInput("multipart/related Content-Type has no boundary parameter", "boundary")
    return boundary


async def _receive_parts(
    request: Request,
    new_temp: Callable[[], TempBlob],
    boundary: str,
    prepare: Callable[[TempBlob], Prepared | StoreResult],
) -> list[Prepared | StoreResult]:
    """Stream the body into one temporary blob per application/dicom part.

    Each finished part is parsed in the thread pool while the next ones arrive, so header
    parsing overlaps with the upload instead of following it.
    """
    temps: list[TempBlob] = []
    pending: list[asyncio.Future[Prepared | StoreResult]] = []
    finished: list[TempBlob] = []
    current: list[TempBlob | None] = [None]

    def start(headers: dict[str, str]) -> None:
        part_type = media.parse_media_type(headers.get("content-type", media.DICOM)).type
        if part_type not in (media.DICOM, ""):
            raise UnsupportedMediaType(f"part of type {part_type!r}; expected application/dicom")
        temp = new_temp()
        temps.append(temp)
        current[0] = temp

    def data(chunk: bytes) -> None:
        if current[0] is not None:
            current[0].write(chunk)

    def end() -> None:
        if current[0] is not None:
            current[0].close()
            finished.append(current[0])
        current[0] = None

    reader = MultipartReader(boundary, start, data, end)
    try:
        async for chunk in request.stream():
            reader.feed(chunk)
            while finished:
                temp = finished.pop(0)
                pending.append(asyncio.ensure_future(run_in_threadpool(prepare, temp)))
        reader.close()
        if reader.parts == 0:
            raise InvalidInput("multipart body has no parts", "body")
    except BaseException:
        await asyncio.gather(*pending, return_exceptions=True)
        for t in temps:
            t.discard()
        raise
    return list(await asyncio.gather(*pending))


def store_response(
    results: list[StoreResult], base_url: str, study: str | None
) -> tuple[int, bytes]:
    """Status code and Store Instances Response Module (DICOM JSON) for the results."""
    referenced: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    warned = False
    for r in results:
        item: dict[str, Any] = {}
        if r.sop_class_uid:
            item["00081150"] = {"vr": "UI", "Value": [r.sop_class_uid]}
        if r.sop_instance_uid:
            item["00081155"] = {"vr": "UI", "Value": [r.sop_instance_uid]}
        if r.failed:
            item["00081197"] = {"vr": "US", "Value": [int(r.status)]}
            failed.append(item)
            continue
        path = instance_path(r.study_instance_uid, r.series_instance_uid, r.sop_instance_uid)
        item["00081190"] = {"vr": "UR", "Value": [base_url + path]}
        if r.status.is_warning:
            warned = True
            item["00081196"] = {"vr": "US", "Value": [int(r.status)]}
        referenced.append(item)
    body: dict[str, Any] = {}
    if study is not None:
        body["00081190"] = {"vr": "UR", "Value": [base_url + study_path(study)]}
    elif len({r.study_instance_uid for r in results if not r.failed}) == 1:
        uid = next(r.study_instance_uid for r in results if not r.failed)
        body["00081190"] = {"vr": "UR", "Value": [base_url + study_path(uid)]}
    if failed:
        body["00081198"] = {"vr": "SQ", "Value": failed}
    if referenced:
        body["00081199"] = {"vr": "SQ", "Value": referenced}
    if not referenced:
        status = 409
    elif failed or warned:
        status = 202
    else:
        status = 200
    for r in results:
        if r.failed:
            logger.info("STOW part refused: 0x%04X", r.status)
            logger.debug("STOW refusal reason: %s", r.reason)  # may quote UIDs
    return status, json.dumps(body, separators=(",", ":")).encode()
