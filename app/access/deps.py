"""FastAPI dependencies that put access control on a route in one line.

Every route that reads or writes patient data declares one of the aliases below; the value it
receives carries ``compartment``, which the route hands to the archive function it calls (those
take it as a required argument). No token -> 401 with ``WWW-Authenticate: Bearer`` (RFC 6750
§3); a token without the scope -> 403 ``insufficient_scope``; another patient's data -> 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app.access.principal import Principal
from app.access.tokens import principal_for_token
from app.deps import ArchiveDep, SettingsDep
from app.errors import Forbidden, Unauthorized
from app.urls import fhir_base


def _bearer(request: Request) -> str | None:
    scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def get_principal(request: Request, settings: SettingsDep, archive: ArchiveDep) -> Principal:
    """The verified caller; ``IMAGESHARE_AUTH=off`` makes everyone an administrator (demo)."""
    if settings.auth == "off":
        return Principal.local_demo()
    token = _bearer(request)
    if token is None:
        raise Unauthorized("This request needs a bearer access token.")
    audience = fhir_base(settings.base_url)
    return await run_in_threadpool(principal_for_token, archive.engine, token, audience)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_scope(resource: str, perm: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets the request through only if a scope grants ``perm`` on
    ``resource`` (``perm`` one of c, r, u, d, s; SMART v1 ``read`` counts as r and s)."""

    async def check(principal: PrincipalDep) -> Principal:
        if not principal.can(resource, perm):
            raise Forbidden(
                f"The access token's scopes do not allow this ({resource} {perm}).",
                f"{principal.contexts[0]}/{resource}.{perm}",
            )
        return principal

    return check


async def require_admin(principal: PrincipalDep) -> Principal:
    if principal.kind != "admin":
        raise Forbidden("Only an administrator may do this.", "admin")
    return principal


def site_scope(resource: str, perm: str) -> Callable[[Principal], Awaitable[Principal]]:
    """Like ``require_scope`` but for site systems and administrators only.

    Used for writes (STOW, FHIR create): a patient app cannot write yet, since what it sends
    would have to be checked to be about that patient alone.
    """
    scoped = require_scope(resource, perm)

    async def check(principal: PrincipalDep) -> Principal:
        if principal.kind == "patient":
            raise Forbidden("Patient apps cannot store records.", f"system/{resource}.{perm}")
        return await scoped(principal)

    return check


ImagingSearch = Annotated[Principal, Depends(require_scope("ImagingStudy", "s"))]
ImagingRead = Annotated[Principal, Depends(require_scope("ImagingStudy", "r"))]
ImagingCreate = Annotated[Principal, Depends(site_scope("ImagingStudy", "c"))]
AdminOnly = Annotated[Principal, Depends(require_admin)]
