"""``/portal/apps``: the SMART ``management_endpoint``. The signed-in patient sees the apps they
authorised and revokes any of them (its tokens stop working on the next request), and opens one
of their studies in a registered viewer app (an EHR-style SMART launch with ``fhirContext``).

Sign-in is the authorization server's (``/oauth/signin``); the session cookie is shared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.archive.compartment import Compartment
from app.archive.query import SearchRequest, search
from app.deps import ArchiveDep, SettingsDep
from app.urls import fhir_base
from smart import accounts, apps, launch
from smart.web import (
    PAGE_HEADERS,
    checked_form,
    current_session,
    server_of,
)

router = APIRouter(prefix="/portal", tags=["portal"], include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def imaging_study_reference(study_uid: str) -> str:
    """The FHIR reference of a study, for ``fhirContext`` (ImagingStudy.id = Study UID)."""
    return f"ImagingStudy/{study_uid}"


def _signin() -> RedirectResponse:
    return RedirectResponse(f"/oauth/signin?{urlencode({'next': '/portal/apps'})}", 303)


def _studies(archive: ArchiveDep, base_url: str, compartment: Compartment) -> list[dict[str, Any]]:
    req = SearchRequest(level="study", limit=200)
    with Session(archive.engine) as s:
        found = search(s, req, base_url, compartment).objects

    def value(obj: dict[str, Any], tag: str) -> str:
        values = obj.get(tag, {}).get("Value") or [""]
        return " ".join(str(v) for v in values)

    return [
        {
            "uid": value(o, "0020000D"),
            "date": value(o, "00080020"),
            "description": value(o, "00081030"),
            "modalities": value(o, "00080061"),
        }
        for o in found
    ]


@router.get("/apps")
async def apps_page(request: Request, archive: ArchiveDep, settings: SettingsDep) -> Response:
    server = server_of(request)
    session = current_session(request, server)
    if session is None or session.user_id is None:
        return _signin()
    user = await run_in_threadpool(accounts.get_user, server.engine, session.user_id)
    if user is None:
        return _signin()
    compartment = Compartment.of([(user.patient_id, user.patient_issuer)])
    authorised = await run_in_threadpool(apps.authorised, server.engine, user.id)
    launchable = await run_in_threadpool(apps.launchable, server.engine)
    studies = await run_in_threadpool(_studies, archive, settings.base_url, compartment)
    response = templates.TemplateResponse(
        request,
        "apps.html",
        {
            "csrf": session.csrf_token,
            "username": user.username,
            "apps": authorised,
            "launchable": launchable,
            "studies": studies,
            "notice": request.query_params.get("notice", ""),
        },
    )
    response.headers.update(PAGE_HEADERS)
    return response


@router.post("/apps/{grant_id}/revoke")
async def revoke_app(grant_id: str, request: Request) -> Response:
    server = server_of(request)
    checked = await checked_form(request, server)
    if checked is None:
        return Response("The form expired; reload the page.", status_code=403)
    _form, session = checked
    if session.user_id is None:
        return _signin()
    try:
        await run_in_threadpool(apps.revoke, server.engine, session.user_id, grant_id)
    except apps.AppNotFound:
        return Response("No such authorised app.", status_code=404)
    return RedirectResponse("/portal/apps?notice=revoked", 303)


@router.post("/launch")
async def open_in_app(request: Request, archive: ArchiveDep, settings: SettingsDep) -> Response:
    """Start an EHR-style launch of ``client_id`` on one of the patient's own studies."""
    server = server_of(request)
    checked = await checked_form(request, server)
    if checked is None:
        return Response("The form expired; reload the page.", status_code=403)
    form, session = checked
    if session.user_id is None:
        return _signin()
    user = await run_in_threadpool(accounts.get_user, server.engine, session.user_id)
    assert user is not None
    mine = Compartment.of([(user.patient_id, user.patient_issuer)])
    studies = await run_in_threadpool(_studies, archive, settings.base_url, mine)
    uid = form.get("study", "")
    if uid not in {s["uid"] for s in studies}:
        return Response("No such study.", status_code=404)
    context = [{"reference": imaging_study_reference(uid)}]
    try:
        url = await run_in_threadpool(
            launch.start,
            server.engine,
            user.id,
            form.get("client_id", ""),
            context,
            fhir_base(settings.base_url),
        )
    except launch.LaunchError as exc:
        return Response(str(exc), status_code=400)
    return RedirectResponse(url, 303)
