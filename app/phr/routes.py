"""``/phr`` routes (thin): recipients (admin), pull manifest and files (the PHR), deliveries
(the patient). Every route turns the verified ``Principal`` into a ``Requester`` and calls a
service.

Who may do what: registering and managing PHRs is for administrators (``AdminOnly``); a patient
sees the registered PHRs' names to choose from, queues deliveries of their own studies and sees
only their own deliveries; a PHR pulls with a patient's token issued to its own client (the
recipient's ``client_id``) with ImagingStudy read scope, for that patient's studies only.
Another patient's study or delivery is 404, as if absent (never 403).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from app.access.deps import AdminOnly, PrincipalDep, require_scope
from app.access.principal import Principal
from app.deps import SettingsDep
from app.errors import Forbidden
from app.phr import pull, recipients, service
from app.phr.service import PhrService, Requester

router = APIRouter(prefix="/phr", tags=["phr"])
NO_STORE = {"Cache-Control": "no-store"}


async def get_phr(request: Request) -> PhrService:
    svc: PhrService = request.app.state.phr
    return svc


def requester_for(principal: Principal) -> Requester:
    """The caller as the PHR service sees it: whose studies, which client."""
    compartment = principal.compartment
    patients = None if compartment.unrestricted else compartment.patients
    return Requester(principal.client_id or principal.kind, patients, principal.client_id)


async def get_requester(principal: PrincipalDep) -> Requester:
    """Patients act for themselves; administrators for everyone (support). Site systems
    (backend services) have no business with a patient's PHR deliveries."""
    if principal.kind == "system":
        raise Forbidden("PHR deliveries are the patient's (or an administrator's).", "patient")
    return requester_for(principal)


async def get_patient(principal: PrincipalDep, settings: SettingsDep) -> Requester:
    """Only the patient decides to send their images to a PHR (the auth-off demo aside)."""
    if principal.kind != "patient" and settings.auth != "off":
        raise Forbidden("Only the patient may send their studies to a PHR.", "patient")
    return requester_for(principal)


async def get_phr_app(
    principal: Annotated[Principal, Depends(require_scope("ImagingStudy", "r"))],
) -> Requester:
    """Pull: a patient's token (with ImagingStudy read) held by the PHR's own client."""
    if principal.kind != "patient":
        raise Forbidden("A pull needs a patient's access token.", "patient/ImagingStudy.r")
    return requester_for(principal)


PhrDep = Annotated[PhrService, Depends(get_phr)]
RequesterDep = Annotated[Requester, Depends(get_requester)]
PatientDep = Annotated[Requester, Depends(get_patient)]
PhrAppDep = Annotated[Requester, Depends(get_phr_app)]


class RecipientIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = Field(default=None, max_length=2000)
    endpoint: str | None = Field(default=None, max_length=2000)
    client_id: str | None = Field(default=None, max_length=200)
    push_token: str | None = Field(default=None, max_length=2000)


class DeliveryIn(BaseModel):
    study: str = Field(min_length=1, max_length=64, pattern=r"^[0-9.]+$")
    recipient: str = Field(min_length=1, max_length=64)


@router.post("/recipients", status_code=201)
async def register_recipient(body: RecipientIn, svc: PhrDep, who: AdminOnly) -> JSONResponse:
    spec = recipients.RecipientSpec(**body.model_dump())
    row = await run_in_threadpool(recipients.register, svc.engine, spec, svc.keys)
    svc.audit("phr.recipient.register", "success", requester_for(who).agent, row.id, row.name)
    return JSONResponse(recipients.describe(row), status_code=201)


@router.get("/recipients")
async def list_recipients(svc: PhrDep, who: RequesterDep) -> list[dict[str, Any]]:
    rows = await run_in_threadpool(recipients.listing, svc.engine, who.patients is None)
    if who.patients is None:
        return [recipients.describe(r) for r in rows]
    return [{"id": r.id, "name": r.name, "push": r.endpoint is not None} for r in rows]


@router.get("/recipients/{recipient_id}")
async def get_recipient(recipient_id: str, svc: PhrDep, _who: AdminOnly) -> dict[str, Any]:
    row = await run_in_threadpool(recipients.get, svc.engine, recipient_id)
    return recipients.describe(row)


@router.post("/recipients/{recipient_id}/disable")
async def disable_recipient(recipient_id: str, svc: PhrDep, who: AdminOnly) -> dict[str, Any]:
    row = await run_in_threadpool(recipients.set_disabled, svc.engine, recipient_id, True)
    svc.audit("phr.recipient.disable", "success", requester_for(who).agent, row.id, "")
    return recipients.describe(row)


@router.post("/studies/{study_uid}/manifest")
async def pull_manifest(study_uid: str, svc: PhrDep, who: PhrAppDep) -> Response:
    body = await run_in_threadpool(pull.create_manifest, svc, who, study_uid)
    return Response(body, media_type="application/json", headers=NO_STORE)


@router.get("/files/{token}")
async def pull_file(token: str, svc: PhrDep) -> Response:
    """A manifest ``location``: the URL is the capability (no other authentication)."""
    body = await run_in_threadpool(pull.fetch_file, svc, token)
    return Response(body, media_type="application/jose", headers=NO_STORE)


@router.post("/deliveries", status_code=202)
async def request_delivery(
    body: DeliveryIn, settings: SettingsDep, svc: PhrDep, who: PatientDep
) -> JSONResponse:
    job = await run_in_threadpool(service.request_delivery, svc, who, body.study, body.recipient)
    view = await run_in_threadpool(service.delivery, svc, who, job.id)
    location = f"{settings.base_url}/phr/deliveries/{job.id}"
    return JSONResponse(view, status_code=202, headers={"Location": location})


@router.get("/deliveries")
async def list_deliveries(svc: PhrDep, who: RequesterDep) -> list[dict[str, Any]]:
    return await run_in_threadpool(service.deliveries, svc, who)


@router.get("/deliveries/{delivery_id}")
async def get_delivery(delivery_id: str, svc: PhrDep, who: RequesterDep) -> dict[str, Any]:
    return await run_in_threadpool(service.delivery, svc, who, delivery_id)
