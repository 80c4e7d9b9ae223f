"""Endpoint: the archive's DICOMweb service, the WADO-RS base every ImagingStudy points to.

SMART Imaging Access: ``connectionType`` dicom-wado-rs and ``address`` the WADO-RS base URL
to which an app appends ``/studies/{uid}``. There is one Endpoint, so it is not a table: it
is built from the public base URL. While bearer tokens guard DICOMweb (``IMAGESHARE_AUTH=on``)
the ``requires-access-token`` extension tells apps to send their SMART token there too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from app.errors import NotFound
from app.fhir.resource import CANONICAL, Compartment, Context, Loaded, Page, meta
from app.fhir.search import ParamType, SearchParam, SearchRequest, SearchSpec, Token

ENDPOINT_ID = "dicomweb"
PROFILE = f"{CANONICAL}/imageshare-wado-endpoint"
CONNECTION_TYPES = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
PAYLOAD_TYPES = "http://terminology.hl7.org/CodeSystem/endpoint-payload-type"
REQUIRES_ACCESS_TOKEN_URL = (
    "http://fhir.org/argonaut/smart-imaging/StructureDefinition/requires-access-token"
)
#: The Endpoint is configuration, not data: its version changes only with the code.
VERSION = 1
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def endpoint_resource(ctx: Context, requires_token: bool | None = None) -> dict[str, Any]:
    """The DICOMweb Endpoint resource (pure)."""
    out: dict[str, Any] = {
        "resourceType": "Endpoint",
        "id": ENDPOINT_ID,
        "meta": meta(VERSION, SINCE, PROFILE),
        "status": "active",
        "connectionType": {"system": CONNECTION_TYPES, "code": "dicom-wado-rs"},
        "name": "DICOMweb (WADO-RS, QIDO-RS, STOW-RS)",
        "payloadType": [{"coding": [{"system": PAYLOAD_TYPES, "code": "any"}]}],
        "payloadMimeType": ["application/dicom", "application/dicom+json"],
        "address": ctx.dicomweb,
    }
    if requires_token is not None:
        out["extension"] = [{"url": REQUIRES_ACCESS_TOKEN_URL, "valueBoolean": requires_token}]
    return out


def loaded(ctx: Context) -> Loaded:
    resource = endpoint_resource(ctx, ctx.requires_token)
    return Loaded(resource, VERSION, SINCE, ENDPOINT_ID)


Predicate = Callable[[dict[str, Any]], bool]


def _id(values: Sequence[Token], _m: str) -> Predicate:
    return lambda _r: any(t.code == ENDPOINT_ID for t in values)


def _connection_type(values: Sequence[Token], _m: str) -> Predicate:
    return lambda _r: any(
        t.code == "dicom-wado-rs" and t.system in (None, CONNECTION_TYPES) for t in values
    )


def _status(values: Sequence[Token], _m: str) -> Predicate:
    return lambda _r: any(t.code == "active" for t in values)


PARAMS = {
    p.name: p
    for p in (
        SearchParam("_id", ParamType.TOKEN, "Logical id", _id),
        SearchParam("connection-type", ParamType.TOKEN, "dicom-wado-rs", _connection_type),
        SearchParam("status", ParamType.TOKEN, "active", _status),
    )
}


class EndpointResource:
    """The one Endpoint, searched and read without the database."""

    name = "Endpoint"
    profile: str | None = PROFILE
    params = PARAMS
    includes: dict[str, Any] = {}
    revincludes: dict[str, Any] = {}
    mandatory = frozenset({"status", "connectionType", "payloadType", "address"})

    def spec(self, elements: frozenset[str]) -> SearchSpec:
        return SearchSpec(self.params, frozenset(), frozenset(), elements)

    def search(
        self, s: Session, req: SearchRequest, compartment: Compartment, ctx: Context
    ) -> Page:
        item = loaded(ctx)
        matches = [item] if all(cond(item.resource) for cond in req.conditions) else []
        total = len(matches)
        if req.summary_count or req.count == 0:
            return Page([], total, False)
        page = matches[req.offset : req.offset + req.count]
        return Page(page, total if req.total else None, False)

    def read(self, s: Session, rid: str, compartment: Compartment, ctx: Context) -> Loaded:
        if rid != ENDPOINT_ID:
            raise NotFound(f"Endpoint/{rid} is not known")
        return loaded(ctx)


RESOURCE = EndpointResource()
