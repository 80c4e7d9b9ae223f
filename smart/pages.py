"""The browser side of the authorization server: authorize (GET and POST), sign-in, consent.

Plain HTML forms, no JavaScript. Every POST carries the session's CSRF token; the pending
authorization request is bound to the browser session that started it, so a request id alone
cannot be completed from another browser.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import OAuth2Error
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from smart import accounts, authorize, consent, sessions
from smart.web import (
    checked_form,
    current_session,
    ensure_session,
    error_page,
    form_items,
    oauth_request,
    page,
    server_of,
    set_session_cookie,
)

router = APIRouter(tags=["SMART authorization pages"], include_in_schema=False)
EXPIRED = "This sign-in request has expired or is not yours. Go back to the app and start again."


def _redirect(url: str, status: int = 303) -> RedirectResponse:
    return RedirectResponse(url, status_code=status, headers={"Cache-Control": "no-store"})


@router.api_route("/oauth/authorize", methods=["GET", "POST"])
async def authorize_endpoint(request: Request) -> Response:
    """Validate the app's request, park it, and send the browser to sign-in or consent."""
    server = server_of(request)
    oreq = await oauth_request(request, server)
    try:
        await run_in_threadpool(authorize.check, server, oreq)
    except OAuth2Error as error:
        if error.redirect_uri:  # client and redirect URI are valid: tell the app
            response: Response = server.handle_error_response(oreq, error)
            return response
        return error_page(request, f"This app's request cannot be accepted: {error.description}")
    params = {k: v[0] for k, v in oreq.payload.datalist.items()}
    session, fresh = await ensure_session(request, server)
    pending = await run_in_threadpool(sessions.save_pending, server.engine, session, params)
    target = "/oauth/consent" if session.user_id else "/oauth/signin"
    response = _redirect(f"{target}?{urlencode({'request': pending})}")
    if fresh:
        set_session_cookie(response, session, server)
    return response


@router.get("/oauth/signin")
async def signin_form(request: Request) -> Response:
    server = server_of(request)
    session, fresh = await ensure_session(request, server)
    response = page(
        request,
        "signin.html",
        csrf=session.csrf_token,
        pending=request.query_params.get("request", ""),
        next=_safe_next(request.query_params.get("next")),
        error=None,
    )
    if fresh:
        set_session_cookie(response, session, server)
    return response


def _safe_next(value: str | None) -> str:
    """Only our own portal or OAuth pages (no open redirect)."""
    if value and value.startswith(("/portal", "/oauth/")) and "//" not in value:
        return value
    return ""


@router.post("/oauth/signin")
async def signin_submit(request: Request) -> Response:
    server = server_of(request)
    checked = await checked_form(request, server)
    if checked is None:
        return error_page(request, "The form expired. Reload the page and try again.", 403)
    form, session = checked
    pending, nxt = form.get("request", ""), _safe_next(form.get("next"))
    try:
        user_id = await run_in_threadpool(
            accounts.sign_in, server.engine, form.get("username", ""), form.get("password", "")
        )
    except accounts.AccountError as exc:
        return page(
            request,
            "signin.html",
            400,
            csrf=session.csrf_token,
            pending=pending,
            next=nxt,
            error=str(exc),
        )
    new = await run_in_threadpool(sessions.sign_in, server.engine, session, user_id)
    target = (
        f"/oauth/consent?{urlencode({'request': pending})}" if pending else nxt or "/portal/apps"
    )
    response = _redirect(target)
    set_session_cookie(response, new, server)
    return response


@router.get("/oauth/consent")
async def consent_form(request: Request) -> Response:
    server = server_of(request)
    pending = request.query_params.get("request", "")
    session = current_session(request, server)
    if session is None or session.user_id is None:
        return _redirect(f"/oauth/signin?{urlencode({'request': pending})}")
    params = await run_in_threadpool(sessions.load_pending, server.engine, session, pending)
    if not params:
        return error_page(request, EXPIRED)
    try:
        checked = await run_in_threadpool(
            authorize.check, server, authorize.request_from(server, params)
        )
    except OAuth2Error as error:
        return error_page(request, f"This app's request cannot be accepted: {error.description}")
    return page(
        request,
        "consent.html",
        csrf=session.csrf_token,
        pending=pending,
        app_name=checked.client.name,
        lines=[consent.describe(s) for s in checked.scope],
    )


@router.post("/oauth/consent")
async def consent_submit(request: Request) -> Response:
    server = server_of(request)
    items = await form_items(request)
    form: dict[str, Any] = dict(items)
    session = current_session(request, server)
    if not sessions.check_csrf(session, form.get("csrf_token")):
        return error_page(request, "The form expired. Reload the page and try again.", 403)
    assert session is not None
    if session.user_id is None:
        return _redirect(f"/oauth/signin?{urlencode({'request': form.get('request', '')})}")
    pending = form.get("request", "")
    params = await run_in_threadpool(sessions.load_pending, server.engine, session, pending)
    if not params:
        return error_page(request, EXPIRED)
    chosen = [v for k, v in items if k == "scope"] if form.get("decision") == "allow" else None
    try:
        response: Response = await run_in_threadpool(
            authorize.decide, server, params, session.user_id, session.auth_time or 0, chosen
        )
    except OAuth2Error as error:
        return error_page(request, f"The app cannot be authorised: {error.description}")
    await run_in_threadpool(sessions.drop_pending, server.engine, pending)
    return response
