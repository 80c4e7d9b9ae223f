"""Starlette glue shared by the OAuth endpoints and the HTML pages: parsed requests, the
session cookie, page rendering with safe headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from smart import sessions
from smart.server import FormRequest, JsonBodyRequest, SmartServer

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

#: The consent page must never be framed (clickjacking) nor cached.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def server_of(request: Request) -> SmartServer:
    server: SmartServer = request.app.state.smart
    return server


def public_uri(request: Request, server: SmartServer) -> str:
    """The request URL on our public base (authlib checks it is https or loopback)."""
    query = f"?{request.url.query}" if request.url.query else ""
    return server.config.base_url + request.url.path + query


async def form_items(request: Request) -> list[tuple[str, str]]:
    if request.method != "POST":
        return []
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return []
    form = await request.form()
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]


async def oauth_request(request: Request, server: SmartServer) -> FormRequest:
    return FormRequest(
        request.method,
        public_uri(request, server),
        request.headers,  # type: ignore[arg-type]  # case-insensitive mapping
        list(request.query_params.multi_items()),
        await form_items(request),
    )


async def json_request(request: Request, server: SmartServer) -> JsonBodyRequest:
    try:
        data: Any = await request.json()
    except ValueError:
        data = {}
    return JsonBodyRequest(
        request.method,
        public_uri(request, server),
        request.headers,  # type: ignore[arg-type]
        data,
    )


def current_session(request: Request, server: SmartServer) -> sessions.SessionInfo | None:
    return sessions.load(server.engine, request.cookies.get(sessions.COOKIE))


async def ensure_session(
    request: Request, server: SmartServer
) -> tuple[sessions.SessionInfo, bool]:
    """The browser's session, or a new one; ``True`` when new (its cookie must be set)."""
    session = current_session(request, server)
    if session is not None:
        return session, False
    return await run_in_threadpool(sessions.create, server.engine), True


async def checked_form(
    request: Request, server: SmartServer
) -> tuple[dict[str, str], sessions.SessionInfo] | None:
    """The posted form and its session if the form's CSRF token is the session's; else None."""
    form = dict(await form_items(request))
    session = current_session(request, server)
    if session is None or not sessions.check_csrf(session, form.get("csrf_token")):
        return None
    return form, session


def set_session_cookie(
    response: Response, session: sessions.SessionInfo, server: SmartServer
) -> None:
    response.set_cookie(
        sessions.COOKIE,
        session.cookie,
        max_age=int(sessions.LIFETIME.total_seconds()),
        httponly=True,
        secure=server.config.secure_cookies,
        samesite="lax",
        path="/",
    )


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(PAGE_HEADERS)
    return response


def error_page(request: Request, message: str, status: int = 400) -> HTMLResponse:
    return page(request, "error.html", status=status, message=message)
