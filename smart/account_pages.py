"""Claiming an account with the one-time access code, and signing out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from smart import accounts, sessions
from smart.web import (
    checked_form,
    ensure_session,
    error_page,
    page,
    server_of,
    set_session_cookie,
)

router = APIRouter(tags=["patient accounts"], include_in_schema=False)


@router.get("/oauth/claim")
async def claim_form(request: Request) -> Response:
    server = server_of(request)
    session, fresh = await ensure_session(request, server)
    response = page(request, "claim.html", csrf=session.csrf_token, error=None, values={})
    if fresh:
        set_session_cookie(response, session, server)
    return response


@router.post("/oauth/claim")
async def claim_submit(request: Request) -> Response:
    server = server_of(request)
    checked = await checked_form(request, server)
    if checked is None:
        return error_page(request, "The form expired. Reload the page and try again.", 403)
    form, session = checked
    values = {"birth_date": form.get("birth_date", ""), "username": form.get("username", "")}
    try:
        if form.get("password", "") != form.get("password2", ""):
            raise accounts.AccountError("The two passwords differ.")
        user_id = await run_in_threadpool(
            accounts.claim,
            server.engine,
            form.get("access_code", ""),
            values["birth_date"],
            values["username"],
            form.get("password", ""),
        )
    except accounts.AccountError as exc:
        return page(
            request, "claim.html", 400, csrf=session.csrf_token, error=str(exc), values=values
        )
    new = await run_in_threadpool(sessions.sign_in, server.engine, session, user_id)
    response = RedirectResponse("/portal/apps", status_code=303)
    set_session_cookie(response, new, server)
    return response


@router.post("/oauth/signout")
async def signout(request: Request) -> Response:
    server = server_of(request)
    checked = await checked_form(request, server)
    if checked is None:
        return error_page(request, "The form expired. Reload the page and try again.", 403)
    _form, session = checked
    await run_in_threadpool(sessions.end, server.engine, session)
    response = RedirectResponse("/oauth/signin", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response
