"""WADO-RS rendered and thumbnail resources (PS3.18 §10.4.1.1.3, §10.4.1.1.5; §8.3.5).

Instance and frame level answer one image (``image/jpeg`` by default, ``image/png``, or an
animated ``image/gif`` for several frames); study and series level answer ``multipart/related``
with one rendered image per image instance. Thumbnails pick a representative image (the middle
instance of the first image series, its middle frame) and fit it in 128 x 128 unless a
``viewport`` is given. An Encapsulated PDF renders as itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.access.deps import ImagingRead
from app.archive import render as rnd
from app.archive.compartment import Compartment
from app.archive.frames import FrameSource, open_source, parse_frame_list
from app.archive.retrieve import Scope, StoredInstance, find_instances
from app.archive.service import Archive
from app.deps import ArchiveDep
from app.dicomweb import media
from app.dicomweb.multipart import frame_parts, new_boundary
from app.errors import NotAcceptable, NotFound

router = APIRouter()


def choose_media(accept: str | None, *, allow_pdf: bool = False) -> str:
    """The rendered media type: image/jpeg for wildcards; 406 if nothing we make is accepted."""
    offered = (*rnd.MEDIA, "application/pdf") if allow_pdf else rnd.MEDIA
    for rng in media.parse_accept(accept):
        if rng.type in ("*/*", "image/*"):
            return "application/pdf" if allow_pdf and rng.type == "*/*" else rnd.JPEG
        candidate = rng.related_type if rng.type == media.MULTIPART_RELATED else rng.type
        if candidate in offered:
            return candidate
    raise NotAcceptable("rendered images are available as image/jpeg, image/png or image/gif")


def _options(
    media_type: str, window: str | None, quality: str | None, viewport: str | None, thumb: bool
) -> rnd.RenderOptions:
    vp = rnd.parse_viewport(viewport)
    if vp is None and thumb:
        vp = rnd.Viewport(rnd.THUMBNAIL_SIZE, rnd.THUMBNAIL_SIZE)
    return rnd.RenderOptions(media_type, rnd.parse_quality(quality), rnd.parse_window(window), vp)


def _accept(request: Request) -> str | None:
    """The ``accept`` query parameter overrides the header (PS3.18 §8.3.3.1)."""
    return request.query_params.get("accept") or request.headers.get("accept")


def _images(archive: Archive, scope: Scope, compartment: Compartment) -> list[StoredInstance]:
    with Session(archive.engine) as s:
        found = find_instances(s, scope, compartment)
        return [i for i in found if i.pixel_data_vr is not None]


def _render_one(
    archive: Archive, src: FrameSource, numbers: list[int] | None, options: rnd.RenderOptions
) -> bytes:
    if numbers is None:
        count = src.number_of_frames
        numbers = list(range(1, count + 1)) if options.media == rnd.GIF else [1]
    images = rnd.render_frames(archive.store, src, numbers, options)
    return rnd.encode(images, options.media, options.quality)


def _instance(archive: Archive, scope: Scope, compartment: Compartment) -> StoredInstance:
    with Session(archive.engine) as s:
        return find_instances(s, scope, compartment)[0]


async def _instance_level(
    request: Request,
    archive: Archive,
    scope: Scope,
    compartment: Compartment,
    frames: str | None,
    thumb: bool,
) -> Response:
    q = request.query_params
    numbers = parse_frame_list(frames) if frames is not None else None
    inst = await run_in_threadpool(_instance, archive, scope, compartment)
    if inst.pixel_data_vr is None:
        wanted = choose_media(_accept(request), allow_pdf=True)
        doc = await run_in_threadpool(rnd.encapsulated_document, archive.store, inst)
        if doc is None or doc[1] != wanted:
            raise NotFound("the instance has no pixel data to render")
        return Response(doc[0], media_type=doc[1])
    options = _options(
        choose_media(_accept(request)), q.get("window"), q.get("quality"), q.get("viewport"), thumb
    )
    src = await run_in_threadpool(open_source, archive.store, inst)
    if thumb and numbers is None:
        numbers = [(src.number_of_frames + 1) // 2]
    body = await run_in_threadpool(_render_one, archive, src, numbers, options)
    return Response(body, media_type=options.media)


async def _group_level(
    request: Request, archive: Archive, scope: Scope, compartment: Compartment, thumb: bool
) -> Response:
    q = request.query_params
    options = _options(
        choose_media(_accept(request)), q.get("window"), q.get("quality"), q.get("viewport"), thumb
    )
    images = await run_in_threadpool(_images, archive, scope, compartment)
    if not images:
        raise NotFound(f"the {scope.level} has no images to render")
    if thumb:
        first_series = [i for i in images if i.series == images[0].series]
        inst = first_series[len(first_series) // 2]
        src = await run_in_threadpool(open_source, archive.store, inst)
        numbers = [(src.number_of_frames + 1) // 2]
        body = await run_in_threadpool(_render_one, archive, src, numbers, options)
        return Response(body, media_type=options.media)
    boundary = new_boundary()

    async def parts() -> AsyncIterator[tuple[str, AsyncIterator[bytes]]]:
        for inst in images:
            src = await run_in_threadpool(open_source, archive.store, inst)
            body = await run_in_threadpool(_render_one, archive, src, None, options)
            yield options.media, _one(body)

    return StreamingResponse(
        frame_parts(boundary, parts()),
        media_type=f'multipart/related; type="{options.media}"; boundary="{boundary}"',
    )


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


_I = "/studies/{study}/series/{series}/instances/{instance}"


@router.get("/studies/{study}/rendered")
@router.get("/studies/{study}/thumbnail")
async def study_rendered(
    study: str, request: Request, archive: ArchiveDep, caller: ImagingRead
) -> Response:
    thumb = request.url.path.endswith("/thumbnail")
    return await _group_level(request, archive, Scope(study), caller.compartment, thumb)


@router.get("/studies/{study}/series/{series}/rendered")
@router.get("/studies/{study}/series/{series}/thumbnail")
async def series_rendered(
    study: str, series: str, request: Request, archive: ArchiveDep, caller: ImagingRead
) -> Response:
    thumb = request.url.path.endswith("/thumbnail")
    scope = Scope(study, series)
    return await _group_level(request, archive, scope, caller.compartment, thumb)


@router.get(_I + "/rendered")
@router.get(_I + "/thumbnail")
async def instance_rendered(
    study: str,
    series: str,
    instance: str,
    request: Request,
    archive: ArchiveDep,
    caller: ImagingRead,
) -> Response:
    thumb = request.url.path.endswith("/thumbnail")
    scope = Scope(study, series, instance)
    return await _instance_level(request, archive, scope, caller.compartment, None, thumb)


@router.get(_I + "/frames/{frame_list}/rendered")
@router.get(_I + "/frames/{frame_list}/thumbnail")
async def frames_rendered(
    study: str,
    series: str,
    instance: str,
    frame_list: str,
    request: Request,
    archive: ArchiveDep,
    caller: ImagingRead,
) -> Response:
    thumb = request.url.path.endswith("/thumbnail")
    scope = Scope(study, series, instance)
    return await _instance_level(request, archive, scope, caller.compartment, frame_list, thumb)
