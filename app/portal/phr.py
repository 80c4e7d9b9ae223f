"""``/portal/phr``: the signed-in patient sends one of their studies to a registered PHR and
follows each delivery's state (queued, waiting, preparing, encrypting, sending, delivered,
failed with the reason). Thin: the PHR service does the work (docs/phr-package.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from app.archive.compartment import Compartment
from app.deps import ArchiveDep, SettingsDep
from app.errors import InvalidInput, NotFound
from app.phr import PhrService, Requester, recipients, service
from app.portal.routes import _studies
from smart import accounts
from smart.models import User
from smart.web import (
    PAGE_HEADERS,
    checked_form,
    current_session,
    server_of,
)

router = APIRouter(prefix="/phr", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
NOTICES = {"queued": "Sending has started. The state below updates as it goes."}


def _signin() -> RedirectResponse:
    return RedirectResponse(f"/oauth/signin?{urlencode({'next': '/portal/phr'})}", 303)


async def _user(request: Request) -> tuple[Any, User] | None:
    server = server_of(request)
    session = current_session(request, server)
    if session is None or session.user_id is None:
        return None
    user = await run_in_threadpool(accounts.get_user, server.engine, session.user_id)
    return (session, user) if user is not None else None


def _requester(user: User) -> Requester:
    return Requester(f"account:{user.id}", frozenset({(user.patient_id, user.patient_issuer)}))


@router.get("")
async def phr_page(request: Request, archive: ArchiveDep, settings: SettingsDep) -> Response:
    found = await _user(request)
    if found is None:
        return _signin()
    session, user = found
    svc: PhrService = request.app.state.phr
    mine = Compartment.of([(user.patient_id, user.patient_issuer)])
    studies = await run_in_threadpool(_studies, archive, settings.base_url, mine)
    phrs = await run_in_threadpool(recipients.listing, svc.engine)
    deliveries = await run_in_threadpool(service.deliveries, svc, _requester(user))
    dates = {s["uid"]: s for s in studies}
    response = templates.TemplateResponse(
        request,
        "phr.html",
        {
            "csrf": session.csrf_token,
            "username": user.username,
            "studies": studies,
            "phrs": [(r.id, r.name) for r in phrs if r.endpoint],
            "deliveries": [{**d, "about": dates.get(d["study"], {})} for d in deliveries],
            "notice": NOTICES.get(request.query_params.get("notice", ""), ""),
        },
    )
    response.headers.update(PAGE_HEADERS)
    return response


@router.post("/send")
async def send(request: Request) -> Response:
    checked = await checked_form(request, server_of(request))
    if checked is None:
        return Response("The form expired; reload the page.", status_code=403)
    form, _session = checked
    found = await _user(request)
    if found is None:
        return _signin()
    svc: PhrService = request.app.state.phr
    who = _requester(found[1])
    try:
        await run_in_threadpool(
            service.request_delivery, svc, who, form.get("study", ""), form.get("recipient", "")
        )
    except NotFound:
        return Response("No such study.", status_code=404)
    except InvalidInput as exc:
        return Response(exc.message, status_code=400)
    return RedirectResponse("/portal/phr?notice=queued", 303)
