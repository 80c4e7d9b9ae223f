"""WADO-URI: ``GET /wado?requestType=WADO&studyUID=…&seriesUID=…&objectUID=…`` (PS3.18 §9).

``contentType`` picks the answer: ``application/dicom`` (the object, in ``transferSyntax`` or
Explicit VR Little Endian by default, transcoded when needed; ``*`` sends it as stored),
``image/jpeg`` (the default for images), ``image/png`` or ``image/gif``, rendered through the same
pipeline as WADO-RS rendered with ``windowCenter``/``windowWidth``, ``rows``/``columns``,
``region``, ``frameNumber`` and ``imageQuality``. Unsupported options (``anonymize``,
``presentationUID``) are refused with 400 rather than silently ignored.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from app.access.deps import ImagingRead
from app.archive import render as rnd
from app.archive import syntaxes as ts
from app.archive.compartment import Compartment
from app.archive.frames import open_source
from app.archive.retrieve import Scope, StoredInstance, find_instances, read_chunks
from app.archive.service import Archive
from app.archive.transcode import can_read, can_write, traits_for, transcode_instance
from app.deps import ArchiveDep
from app.dicomweb import media
from app.errors import InvalidInput, NotAcceptable

router = APIRouter(tags=["WADO-URI"])

_REQUIRED = ("studyUID", "seriesUID", "objectUID")


def _lookup(archive: Archive, scope: Scope, compartment: Compartment) -> StoredInstance:
    with Session(archive.engine) as s:
        return find_instances(s, scope, compartment)[0]


def _int(q: dict[str, str], name: str, low: int, high: int) -> int | None:
    if name not in q:
        return None
    try:
        value = int(q[name])
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be an integer from {low} to {high}", name)
    return value


def _region(q: dict[str, str], rows: int, columns: int) -> tuple[int, int, int, int] | None:
    """``region=x1,y1,x2,y2`` normalised to 0..1 (PS3.18 §9.1.2.3.5) as a pixel box."""
    if "region" not in q:
        return None
    try:
        x1, y1, x2, y2 = (float(v) for v in q["region"].split(","))
    except ValueError as exc:
        raise InvalidInput("region must be x1,y1,x2,y2 between 0 and 1", "region") from exc
    if not (0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1):
        raise InvalidInput("region must be x1,y1,x2,y2 with 0 <= x1 < x2 <= 1", "region")
    sx, sy = round(x1 * columns), round(y1 * rows)
    return sx, sy, max(1, round(x2 * columns) - sx), max(1, round(y2 * rows) - sy)


def _window(q: dict[str, str]) -> rnd.Window | None:
    if ("windowCenter" in q) != ("windowWidth" in q):
        raise InvalidInput("windowCenter and windowWidth go together", "windowWidth")
    if "windowCenter" not in q:
        return None
    return rnd.parse_window(f"{q['windowCenter']},{q['windowWidth']}")


def _content_type(q: dict[str, str], is_image: bool) -> str:
    offered = (media.DICOM, *rnd.MEDIA) if is_image else (media.DICOM,)
    if "contentType" not in q:
        return rnd.JPEG if is_image else media.DICOM
    for rng in media.parse_accept(q["contentType"]):
        if rng.type in ("*/*", "image/*") and is_image:
            return rnd.JPEG
        if rng.type in offered:
            return rng.type
    if is_image:
        raise NotAcceptable("contentType must be application/dicom, image/jpeg, png or gif")
    raise NotAcceptable("this object has no pixel data: only application/dicom is available")


def _dicom(archive: Archive, inst: StoredInstance, q: dict[str, str]) -> Response:
    wanted = q.get("transferSyntax", ts.EXPLICIT_VR_LE)
    stored = inst.transfer_syntax_uid
    if wanted in ("*", stored):
        body = read_chunks(archive.store, inst.blob_key)
        return StreamingResponse(
            iterate_in_threadpool(body), media_type=media.DICOM, headers=_disposition(inst)
        )
    with Session(archive.engine) as s:
        traits = traits_for(s, [inst.sop_instance_uid])[inst.sop_instance_uid]
    target = wanted
    if ts.is_encapsulated(wanted) and not traits.has_pixels:
        target = ts.EXPLICIT_VR_LE
    if not (can_read(stored) and can_write(target, traits)):
        raise NotAcceptable(f"cannot produce transfer syntax {wanted}; stored as {stored}")
    with archive.store.open(inst.blob_key) as fh:
        data = transcode_instance(fh, target)
    return Response(data, media_type=media.DICOM, headers=_disposition(inst))


def _disposition(inst: StoredInstance) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{inst.sop_instance_uid}.dcm"'}


def _rendered(archive: Archive, inst: StoredInstance, q: dict[str, str], kind: str) -> bytes:
    src = open_source(archive.store, inst)
    frame = _int(q, "frameNumber", 1, src.number_of_frames) or 1
    rows, columns = int(src.header.Rows), int(src.header.Columns)
    out_rows = _int(q, "rows", 1, 8192)
    out_columns = _int(q, "columns", 1, 8192)
    region = _region(q, rows, columns)
    viewport = None
    if region or out_rows or out_columns:
        box = region or (0, 0, columns, rows)
        width = out_columns or (box[2] if out_rows is None else 8192)
        height = out_rows or (box[3] if out_columns is None else 8192)
        viewport = rnd.Viewport(width, height, *box)
    options = rnd.RenderOptions(kind, _int(q, "imageQuality", 1, 100) or 90, _window(q), viewport)
    frames = list(range(1, src.number_of_frames + 1)) if kind == rnd.GIF else [frame]
    if kind == rnd.GIF and "frameNumber" in q:
        frames = [frame]
    images = rnd.render_frames(archive.store, src, frames, options)
    return rnd.encode(images, kind, options.quality)


def _check(q: dict[str, str]) -> Scope:
    if q.get("requestType") != "WADO":
        raise InvalidInput("requestType must be WADO", "requestType")
    for name in _REQUIRED:
        if not q.get(name):
            raise InvalidInput(f"{name} is required", name)
    for name in ("anonymize", "presentationUID", "presentationSeriesUID"):
        if name in q:
            raise InvalidInput(f"{name} is not supported by this server", name)
    return Scope(q["studyUID"], q["seriesUID"], q["objectUID"])


@router.get("/wado")
async def wado_uri(request: Request, archive: ArchiveDep, caller: ImagingRead) -> Response:
    q = dict(request.query_params)
    scope = _check(q)
    inst = await run_in_threadpool(_lookup, archive, scope, caller.compartment)
    kind = _content_type(q, inst.pixel_data_vr is not None)
    if kind == media.DICOM:
        return await run_in_threadpool(_dicom, archive, inst, q)
    body = await run_in_threadpool(_rendered, archive, inst, q, kind)
    return Response(body, media_type=kind)
