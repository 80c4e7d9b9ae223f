"""The machine-facing OAuth endpoints: token, introspection, revocation, registration, JWKS and
discovery. The browser pages (authorize, sign-in, consent, claim) are in ``smart.pages``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from smart import discovery, keys
from smart.web import json_request, oauth_request, server_of

router = APIRouter(tags=["SMART authorization server"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post("/oauth/token")
async def token(request: Request) -> Response:
    """RFC 6749 §3.2; every answer, success or error, is ``no-store`` (§5.1)."""
    server = server_of(request)
    oreq = await oauth_request(request, server)
    response: Response = await run_in_threadpool(server.create_token_response, oreq)
    response.headers.update(NO_STORE)
    return response


async def _endpoint(request: Request, name: str, *, json_body: bool = False) -> Response:
    """Run one of authlib's endpoints; its answers are never cached (``no-store``)."""
    server = server_of(request)
    req = await (json_request if json_body else oauth_request)(request, server)
    response: Response = await run_in_threadpool(server.create_endpoint_response, name, req)
    response.headers.update(NO_STORE)
    return response


@router.post("/oauth/introspect")
async def introspect(request: Request) -> Response:
    """RFC 7662 token introspection."""
    return await _endpoint(request, "introspection")


@router.post("/oauth/revoke")
async def revoke(request: Request) -> Response:
    """RFC 7009 token revocation."""
    return await _endpoint(request, "revocation")


@router.post("/oauth/register")
async def register(request: Request) -> Response:
    """RFC 7591 dynamic client registration (with an initial access token)."""
    return await _endpoint(request, "client_registration", json_body=True)


_STYLE = (Path(__file__).parent / "templates" / "style.css").read_bytes()


@router.get("/oauth/style.css", include_in_schema=False)
async def style() -> Response:
    """The pages' stylesheet, served from here because their CSP forbids inline styles."""
    return Response(
        _STYLE, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
    )


@router.get("/oauth/jwks")
async def jwks(request: Request) -> JSONResponse:
    server = server_of(request)
    body = await run_in_threadpool(keys.jwks, server.engine)
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})


def _json(body: dict[str, Any]) -> JSONResponse:
    # application/json whatever the Accept header (SMART discovery); CORS comes from middleware.
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})


@router.get("/.well-known/smart-configuration")
@router.get("/fhir/.well-known/smart-configuration")
async def smart_configuration(request: Request) -> JSONResponse:
    return _json(discovery.smart_configuration(server_of(request).config))


@router.get("/.well-known/openid-configuration")
async def openid_configuration(request: Request) -> JSONResponse:
    return _json(discovery.openid_configuration(server_of(request).config))
