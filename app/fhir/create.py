"""``POST /fhir/DocumentReference`` and ``POST /fhir/Binary`` (FHIR R4 create).

201 with ``Location`` (the versioned URL), ``ETag`` and ``Last-Modified``; the body follows
``Prefer: return=minimal|representation|OperationOutcome`` (representation by default). A body
that is not JSON is 400, a JSON body that is not a valid resource 422, a wrong media type 415,
too large 413.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.access.deps import site_scope
from app.archive import documents
from app.archive.documents import Attachment
from app.archive.service import Archive
from app.deps import ArchiveDep
from app.errors import Conflict, InvalidInput, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from app.fhir import binary, formats
from app.fhir.deps import CompartmentDep, ContextDep
from app.fhir.document_create import parse_posted
from app.fhir.models import InvalidResource, validate
from app.fhir.outcome import operation_outcome
from app.fhir.registry import DOCUMENT_REFERENCE
from app.fhir.resource import Context, Loaded
from app.fhir.routes import resource_headers

router = APIRouter()

#: Largest attachment accepted; reports are small, and the content is kept in the database.
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
#: Base64 inflates by 4/3; allow for the rest of the resource too.
MAX_BODY_BYTES = MAX_ATTACHMENT_BYTES * 4 // 3 + 1024 * 1024


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidInput("request body is not valid JSON (or nested too deeply)") from None
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object (a FHIR resource)")
    return body


def _created(request: Request, ctx: Context, item: Loaded) -> Response:
    headers = resource_headers(item)
    headers["Location"] = f"{ctx.fhir}/{item.type}/{item.id}/_history/{item.version}"
    prefer = request.headers.get("prefer", "").replace(" ", "").lower()
    if "return=minimal" in prefer:
        return Response(status_code=201, headers=headers)
    if "return=operationoutcome" in prefer:
        body = operation_outcome(
            201, f"created {item.type}/{item.id}", "informational", severity="information"
        )
        return formats.fhir_response(request, body, 201, headers)
    return formats.fhir_response(request, item.resource, 201, headers)


def _store_document(archive: Archive, body: dict[str, Any], ctx: Context) -> Loaded:
    with Session(archive.engine, expire_on_commit=False) as s:
        posted = parse_posted(s, body, ctx.fhir)
        doc = posted.document
        if doc.master_identifier and documents.master_identifier_taken(s, doc.master_identifier):
            raise Conflict("a DocumentReference with this masterIdentifier already exists")
        if posted.data is not None:
            attachment = documents.store_attachment(s, doc.content_type, posted.data)
        else:
            attachment = s.execute(
                select(Attachment).where(Attachment.resource_id == posted.binary_id)
            ).scalar_one()
            if attachment.patient_pk not in (None, doc.patient_pk):
                raise Unprocessable("that Binary belongs to another patient's document")
            if attachment.content_type.split(";")[0] != doc.content_type.split(";")[0]:
                raise Unprocessable("attachment contentType differs from the Binary's")
        row = documents.create_document(s, doc, attachment)
        s.commit()
        assert row.pk is not None
        return DOCUMENT_REFERENCE.load(s, [row.pk], ctx)[0]


@router.post(
    "/DocumentReference",
    status_code=201,
    dependencies=[Depends(site_scope("DocumentReference", "c"))],
)
async def create_document_reference(
    request: Request, archive: ArchiveDep, _c: CompartmentDep, ctx: ContextDep
) -> Response:
    formats.negotiate(request)
    formats.check_content_type(request)
    body = parse_json(await read_body(request, MAX_BODY_BYTES))
    item = await run_in_threadpool(_store_document, archive, body, ctx)
    return _created(request, ctx, item)


def _store_binary(archive: Archive, content_type: str, data: bytes) -> Loaded:
    with Session(archive.engine, expire_on_commit=False) as s:
        att = documents.store_attachment(s, content_type, data)
        s.commit()
        assert att.pk is not None
        return binary.load_binaries(s, [att.pk], Context(""))[0]


def _binary_from_fhir(raw: bytes) -> tuple[str, bytes]:
    body = parse_json(raw)
    if body.get("resourceType") != "Binary":
        raise Unprocessable("a FHIR body posted to /Binary must be a Binary resource")
    try:
        model: Any = validate(body)
    except InvalidResource as exc:
        raise Unprocessable("invalid Binary: " + "; ".join(exc.problems)) from None
    if model.data is None:
        raise Unprocessable("Binary.data is required")
    return str(model.contentType), bytes(model.data)


@router.post("/Binary", status_code=201, dependencies=[Depends(site_scope("Binary", "c"))])
async def create_binary(
    request: Request, archive: ArchiveDep, _c: CompartmentDep, ctx: ContextDep
) -> Response:
    """A Binary resource in FHIR JSON, or raw content in its own media type."""
    formats.negotiate(request)
    ctype = request.headers.get("content-type", "").strip()
    if not ctype:
        raise UnsupportedMediaType("Content-Type is required for a Binary")
    main = ctype.split(";")[0].strip().lower()
    if main in formats.JSON_TYPES and main != "application/json":
        content_type, data = _binary_from_fhir(await read_body(request, MAX_BODY_BYTES))
    else:
        content_type, data = ctype, await read_body(request, MAX_ATTACHMENT_BYTES)
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise PayloadTooLarge(f"content is larger than {MAX_ATTACHMENT_BYTES} bytes")
    item = await run_in_threadpool(_store_binary, archive, content_type, data)
    return _created(request, ctx, item)
