"""WADO-RS retrieve: instances, metadata and bulk data (PS3.18 §10.4).

Instances are sent as stored when the client accepts that transfer syntax (``transfer-syntax=*``
or the stored one); Explicit VR Little Endian is the default for ``application/dicom``. Other
syntaxes are produced by transcoding (``app.archive.transcode``) when every instance in scope can
be written in them; instances without pixel data go out in Explicit VR Little Endian whatever
compressed syntax was asked (PS3.18 §8.7.3.5.2). What cannot be produced is 406, never 500.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from app.access.deps import ImagingRead
from app.archive import dicomjson
from app.archive.blobs import BlobStore
from app.archive.compartment import Compartment
from app.archive.retrieve import (
    Scope,
    StoredInstance,
    bulk_value,
    find_instances,
    find_metadata,
    read_chunks,
)
from app.archive.syntaxes import SYNTAXES, is_encapsulated
from app.archive.transcode import (
    PixelTraits,
    can_read,
    can_write,
    traits_for,
    transcode_instance,
)
from app.deps import ArchiveDep, SettingsDep
from app.dicomweb import frames, media
from app.dicomweb.multipart import frame_parts, new_boundary
from app.errors import NotAcceptable

router = APIRouter()


Traits = Callable[[], dict[str, PixelTraits]]


def _choose_transfer_syntax(
    accept: str | None, instances: list[StoredInstance], traits: Traits
) -> str:
    """``*`` to send as stored, or the one syntax every instance will be sent in.

    ``traits`` is only called (a metadata read) when a transcoding must be judged.
    """
    for rng in media.parse_accept(accept):
        if rng.type in ("*/*", "multipart/*"):
            return "*"
        if rng.type != media.MULTIPART_RELATED or rng.related_type not in ("", media.DICOM):
            continue
        wanted = rng.params.get("transfer-syntax", media.EXPLICIT_VR_LE)
        if wanted == "*" or all(i.transfer_syntax_uid == wanted for i in instances):
            return wanted
        if _can_produce(wanted, instances, traits()):
            return wanted
    raise NotAcceptable(
        "cannot produce the requested media type or transfer syntax; stored syntaxes are "
        + ", ".join(sorted({i.transfer_syntax_uid for i in instances}))
        + " (ask with transfer-syntax=* to receive them as stored)"
    )


def _can_produce(
    wanted: str, instances: list[StoredInstance], traits: dict[str, PixelTraits]
) -> bool:
    if wanted not in SYNTAXES or not SYNTAXES[wanted].writable:
        return False
    return all(
        i.transfer_syntax_uid == wanted
        or (
            can_read(i.transfer_syntax_uid)
            and can_write(_target(wanted, i), traits[i.sop_instance_uid])
        )
        for i in instances
    )


def _target(wanted: str, inst: StoredInstance) -> str:
    """Objects without pixel data are sent natively when a compressed syntax is asked."""
    if is_encapsulated(wanted) and inst.pixel_data_vr is None:
        return media.EXPLICIT_VR_LE
    return wanted


def _instance_body(store: BlobStore, inst: StoredInstance, target: str) -> Iterator[bytes]:
    if target in ("*", inst.transfer_syntax_uid):
        yield from read_chunks(store, inst.blob_key)
        return
    with store.open(inst.blob_key) as fh:
        yield transcode_instance(fh, target)


async def _retrieve(
    request: Request, archive: ArchiveDep, scope: Scope, compartment: Compartment
) -> Response:
    accept = request.headers.get("accept")

    def lookup() -> tuple[list[StoredInstance], str]:
        with Session(archive.engine) as s:
            found = find_instances(s, scope, compartment)
            memo: dict[str, PixelTraits] = {}

            def traits() -> dict[str, PixelTraits]:
                if not memo:
                    memo.update(traits_for(s, [i.sop_instance_uid for i in found]))
                return memo

            return found, _choose_transfer_syntax(accept, found, traits)

    instances, wanted = await run_in_threadpool(lookup)
    boundary = new_boundary()
    store = archive.store

    async def parts() -> AsyncIterator[tuple[str, AsyncIterator[bytes]]]:
        for inst in instances:
            target = inst.transfer_syntax_uid if wanted == "*" else _target(wanted, inst)
            ctype = f"{media.DICOM}; transfer-syntax={target}"
            yield ctype, iterate_in_threadpool(_instance_body(store, inst, target))

    return StreamingResponse(
        frame_parts(boundary, parts()),
        media_type=f'multipart/related; type="{media.DICOM}"; boundary="{boundary}"',
    )


@router.get("/studies/{study}")
async def retrieve_study(
    study: str, request: Request, archive: ArchiveDep, caller: ImagingRead
) -> Response:
    return await _retrieve(request, archive, Scope(study), caller.compartment)


@router.get("/studies/{study}/series/{series}")
async def retrieve_series(
    study: str, series: str, request: Request, archive: ArchiveDep, caller: ImagingRead
) -> Response:
    return await _retrieve(request, archive, Scope(study, series), caller.compartment)


@router.get("/studies/{study}/series/{series}/instances/{instance}")
async def retrieve_instance(
    study: str,
    series: str,
    instance: str,
    request: Request,
    archive: ArchiveDep,
    caller: ImagingRead,
) -> Response:
    return await _retrieve(request, archive, Scope(study, series, instance), caller.compartment)


def _check_json_accept(accept: str | None) -> None:
    for rng in media.parse_accept(accept):
        if rng.matches(media.DICOM_JSON) or rng.matches(media.JSON):
            return
    raise NotAcceptable("metadata is available as application/dicom+json")


async def _metadata(
    request: Request,
    archive: ArchiveDep,
    settings: SettingsDep,
    scope: Scope,
    compartment: Compartment,
) -> Response:
    _check_json_accept(request.headers.get("accept"))

    def lookup() -> tuple[list[bytes], str]:
        with Session(archive.engine) as s:
            return find_metadata(s, scope, compartment)

    objects, version = await run_in_threadpool(lookup)
    tag = hashlib.sha1(f"{scope}|{version}|{settings.base_url}".encode()).hexdigest()[:20]
    etag = f'W/"{tag}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag in (request.headers.get("if-none-match") or ""):
        return Response(status_code=304, headers=headers)
    body = b"[" + b",".join(objects) + b"]"
    body = body.replace(dicomjson.BASE_PLACEHOLDER_BYTES, settings.base_url.encode())
    return Response(body, media_type=media.DICOM_JSON, headers=headers)


@router.get("/studies/{study}/metadata")
async def study_metadata(
    study: str, request: Request, archive: ArchiveDep, settings: SettingsDep, caller: ImagingRead
) -> Response:
    return await _metadata(request, archive, settings, Scope(study), caller.compartment)


@router.get("/studies/{study}/series/{series}/metadata")
async def series_metadata(
    study: str,
    series: str,
    request: Request,
    archive: ArchiveDep,
    settings: SettingsDep,
    caller: ImagingRead,
) -> Response:
    scope = Scope(study, series)
    return await _metadata(request, archive, settings, scope, caller.compartment)


@router.get("/studies/{study}/series/{series}/instances/{instance}/metadata")
async def instance_metadata(
    study: str,
    series: str,
    instance: str,
    request: Request,
    archive: ArchiveDep,
    settings: SettingsDep,
    caller: ImagingRead,
) -> Response:
    scope = Scope(study, series, instance)
    return await _metadata(request, archive, settings, scope, caller.compartment)


@router.get("/studies/{study}/series/{series}/instances/{instance}/bulkdata/{path:path}")
async def bulkdata(
    study: str,
    series: str,
    instance: str,
    path: str,
    request: Request,
    archive: ArchiveDep,
    caller: ImagingRead,
) -> Response:
    """The value of one bulk data element, as PS3.18 §10.4.1.1.3 bulk data retrieve.

    Encapsulated Pixel Data is answered like a retrieve of all frames: one part per frame in
    its compressed syntax, or transcoded as the Accept asks (PS3.18 §8.7.3.3.2).
    """
    scope = Scope(study, series, instance)
    accept = request.headers.get("accept")
    parts = [p for p in path.split("/") if p]

    def lookup() -> StoredInstance:
        with Session(archive.engine) as s:
            return find_instances(s, scope, caller.compartment)[0]

    inst = await run_in_threadpool(lookup)
    if parts == ["7FE00010"] and is_encapsulated(inst.transfer_syntax_uid):
        src, traits = await run_in_threadpool(
            frames.load_source, archive, scope, caller.compartment
        )
        every = list(range(1, src.number_of_frames + 1))
        return frames.frames_response(archive, accept, src, traits, every)
    single = _bulk_media(accept)
    body: Iterator[bytes]
    if (
        parts == ["7FE00010"]
        and inst.pixel_data_offset is not None
        and (inst.pixel_data_length or -1) >= 0
    ):
        body = read_chunks(
            archive.store, inst.blob_key, inst.pixel_data_offset, inst.pixel_data_length
        )
    else:
        value, _vr = await run_in_threadpool(bulk_value, archive.store, inst, parts)
        body = iter([value])
    if single:
        return StreamingResponse(iterate_in_threadpool(body), media_type=media.OCTET_STREAM)
    boundary = new_boundary()

    async def one_part() -> AsyncIterator[tuple[str, AsyncIterator[bytes]]]:
        yield media.OCTET_STREAM, iterate_in_threadpool(body)

    return StreamingResponse(
        frame_parts(boundary, one_part()),
        media_type=f'multipart/related; type="{media.OCTET_STREAM}"; boundary="{boundary}"',
    )


def _bulk_media(accept: str | None) -> bool:
    """True for a single-part answer; False for multipart/related (the PS3.18 default)."""
    for rng in media.parse_accept(accept):
        if rng.type in ("*/*", "multipart/*"):
            return False
        if rng.type == media.MULTIPART_RELATED and rng.related_type in ("", media.OCTET_STREAM):
            return False
        if rng.type == media.OCTET_STREAM:
            return True
    raise NotAcceptable(
        'bulk data is available as multipart/related; type="application/octet-stream"'
    )
