"""WADO-RS frames (PS3.18 §10.4.1.1.4) and pixel data bulk data of encapsulated objects.

Frames go out as ``multipart/related``: native ones as ``application/octet-stream``, compressed
ones in their own syntax when the Accept allows it (``transfer-syntax=*``, or the stored syntax
named), otherwise transcoded to the first acceptable syntax we can write; else 406. Each part's
Content-Type names its ``transfer-syntax`` so a client (OHIF/cornerstone) can pick its decoder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from app.access.deps import ImagingRead
from app.archive import frames as archive_frames
from app.archive import syntaxes as ts
from app.archive.compartment import Compartment
from app.archive.frames import FrameSource
from app.archive.retrieve import Scope, StoredInstance, find_instances
from app.archive.service import Archive
from app.archive.transcode import (
    PixelTraits,
    can_read,
    can_write,
    traits_of_header,
    transcode_frames,
)
from app.deps import ArchiveDep
from app.dicomweb import media
from app.dicomweb.multipart import frame_parts, new_boundary
from app.errors import NotAcceptable

router = APIRouter()


def choose_frame_syntax(accept: str | None, stored: str, traits: PixelTraits) -> tuple[str, str]:
    """(part media type, transfer syntax) for frames stored in ``stored``; else NotAcceptable."""
    for rng in media.parse_accept(accept):
        if rng.type in ("*/*", "multipart/*"):
            return _as_stored(stored)
        if rng.type == media.MULTIPART_RELATED:
            part = rng.related_type or media.OCTET_STREAM
        elif rng.type in ts.DEFAULT_FOR_MEDIA:
            part = rng.type
        else:
            continue
        wanted = rng.params.get("transfer-syntax")
        if wanted == "*":
            if part == media.OCTET_STREAM or ts.media_allows(part, stored):
                return (part, stored)
            wanted = None
        wanted = wanted or ts.DEFAULT_FOR_MEDIA.get(part)
        if wanted is None or not ts.media_allows(part, wanted):
            continue
        if wanted == stored or (not ts.is_encapsulated(stored) and wanted in ts.NATIVE):
            return (part, wanted if wanted != ts.EXPLICIT_VR_BE else stored)
        if can_read(stored) and can_write(wanted, traits):
            return (part, wanted)
    raise NotAcceptable(
        f"frames are stored as {stored}; cannot produce any media type or transfer syntax in the "
        "Accept header (ask with transfer-syntax=* to receive them as stored)"
    )


def _as_stored(stored: str) -> tuple[str, str]:
    syntax = ts.SYNTAXES.get(stored)
    return (syntax.frame_media if syntax else media.OCTET_STREAM, stored)


def load_source(
    archive: Archive, scope: Scope, compartment: Compartment
) -> tuple[FrameSource, PixelTraits]:
    """The instance's pixel layout and traits, from one index lookup and a header read."""
    with Session(archive.engine) as s:
        inst: StoredInstance = find_instances(s, scope, compartment)[0]
    src = archive_frames.open_source(archive.store, inst)
    return src, traits_of_header(src.header)


def _negotiate(
    accept: str | None, src: FrameSource, traits: PixelTraits, numbers: list[int]
) -> tuple[str, str]:
    archive_frames.check_frames(src, numbers)
    return choose_frame_syntax(accept, src.frame_syntax, traits)


def _produce(
    archive: Archive, src: FrameSource, numbers: list[int], target: str
) -> Iterator[bytes]:
    raw = archive_frames.iter_frames(archive.store, src, numbers)
    yield from transcode_frames(src.header, raw, src.frame_syntax, target)


def _media_type(part: str, boundary: str) -> str:
    return f'multipart/related; type="{part}"; boundary="{boundary}"'


def frames_response(
    archive: Archive, accept: str | None, src: FrameSource, traits: PixelTraits, numbers: list[int]
) -> Response:
    """Stream the frames as multipart/related in the negotiated syntax, one frame in memory."""
    part, target = _negotiate(accept, src, traits, numbers)
    boundary = new_boundary()
    content_type = f"{part}; transfer-syntax={target}"

    async def parts() -> AsyncIterator[tuple[str, AsyncIterator[bytes]]]:
        async for frame in iterate_in_threadpool(_produce(archive, src, numbers, target)):
            yield content_type, _one(frame)

    return StreamingResponse(frame_parts(boundary, parts()), media_type=_media_type(part, boundary))


def single_frame_response(
    archive: Archive, scope: Scope, compartment: Compartment, accept: str | None, number: int
) -> Response:
    """One frame, looked up, read and framed in a single worker-thread call (blocking).

    The common viewer request; skipping the per-chunk thread hops of streaming halves its
    latency (docs/benchmarks.md).
    """
    src, traits = load_source(archive, scope, compartment)
    part, target = _negotiate(accept, src, traits, [number])
    [frame] = list(_produce(archive, src, [number], target))
    boundary = new_boundary()
    body = (
        f"--{boundary}\r\nContent-Type: {part}; transfer-syntax={target}\r\n\r\n".encode()
        + frame
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return Response(body, media_type=_media_type(part, boundary))


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


@router.get("/studies/{study}/series/{series}/instances/{instance}/frames/{frame_list}")
async def retrieve_frames(
    study: str,
    series: str,
    instance: str,
    frame_list: str,
    request: Request,
    archive: ArchiveDep,
    caller: ImagingRead,
) -> Response:
    numbers = archive_frames.parse_frame_list(frame_list)
    scope = Scope(study, series, instance)
    src, traits = await run_in_threadpool(load_source, archive, scope, caller.compartment)
    return frames_response(archive, request.headers.get("accept"), src, traits, numbers)
