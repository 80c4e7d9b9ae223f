"""FastAPI dependencies of the FHIR surface.

``CompartmentDep`` is where authorization plugs in: it returns the patients the caller may see
(their patient row keys, from the verified token's ``Principal``; None for site systems and
administrators), and every search, read and include is scoped by it (``resource.scoped``).
Scope checks per type and interaction are route dependencies (``routes.py``, ``create.py``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.access.deps import PrincipalDep
from app.archive.compartment import patient_keys
from app.deps import ArchiveDep, SettingsDep
from app.fhir.resource import Compartment, Context


async def get_compartment(caller: PrincipalDep, archive: ArchiveDep) -> Compartment:
    if caller.compartment.unrestricted:
        return None

    def lookup() -> Compartment:
        with Session(archive.engine) as s:
            return patient_keys(s, caller.compartment)

    return await run_in_threadpool(lookup)


def get_context(settings: SettingsDep) -> Context:
    # SMART Imaging Access: the DICOMweb Endpoint says whether it needs the access token.
    return Context(settings.base_url, requires_token=settings.auth == "on")


CompartmentDep = Annotated[Compartment, Depends(get_compartment)]
ContextDep = Annotated[Context, Depends(get_context)]
