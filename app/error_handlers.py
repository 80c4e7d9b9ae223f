"""The one mapping from domain errors to HTTP responses, rendered per surface."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import errors

logger = logging.getLogger(__name__)

STATUS: dict[type[errors.ImageShareError], int] = {
    errors.InvalidInput: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.NotAcceptable: 406,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.Unprocessable: 422,
    errors.ServiceUnavailable: 503,
}

#: Renderer per URL prefix: (request, status, message, code) -> Response. Surfaces register
#: their own (FHIR: OperationOutcome); the default is a small JSON body.
Renderer = Callable[[Request, int, str, str | None], Response]
RENDERERS: dict[str, Renderer] = {}


def status_for(exc: errors.ImageShareError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def default_render(_request: Request, status: int, message: str, code: str | None) -> Response:
    body: dict[str, object] = {"status": status, "message": message}
    if code:
        body["parameter"] = code
    return JSONResponse(body, status_code=status)


def render(request: Request, status: int, message: str, code: str | None = None) -> Response:
    path = request.url.path
    for prefix, renderer in RENDERERS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return renderer(request, status, message, code)
    return default_render(request, status, message, code)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "").replace('"', "'") + '"'


def www_authenticate(exc: errors.ImageShareError) -> str | None:
    """The RFC 6750 §3 challenge: bare when no token was sent, with ``error`` otherwise."""
    if isinstance(exc, errors.Unauthorized):
        if exc.code is None:
            return 'Bearer realm="imageshare"'
        return (
            f'Bearer realm="imageshare", error={_quoted(exc.code)}, '
            f"error_description={_quoted(exc.message)}"
        )
    if isinstance(exc, errors.Forbidden) and exc.code:
        return f'Bearer realm="imageshare", error="insufficient_scope", scope={_quoted(exc.code)}'
    return None


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.ImageShareError)
    async def domain_error(request: Request, exc: errors.ImageShareError) -> Response:
        challenge = www_authenticate(exc)
        code = None if challenge else exc.code
        response = render(request, status_for(exc), exc.message, code)
        if challenge:
            response.headers["WWW-Authenticate"] = challenge
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail) if exc.detail else "error"
        response = render(request, exc.status_code, message)
        for k, v in (exc.headers or {}).items():
            response.headers[k] = v
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:])
        return render(request, 400, f"invalid {where}: {first.get('msg', 'bad value')}", where)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        request_id = uuid.uuid4().hex[:12]
        route = getattr(request.scope.get("route"), "path", "?")
        logger.exception("unhandled error (request %s) on %s %s", request_id, request.method, route)
        return render(request, 500, f"internal error (request {request_id})")
