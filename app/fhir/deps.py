"""FastAPI dependencies of the FHIR surface.

``CompartmentDep`` is where authorization will plug in: it returns the patients the caller may
see, and every search, read and include is scoped by it (``resource.scoped``). Until the SMART
issue lands it returns None (no restriction).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.deps import SettingsDep
from app.fhir.resource import Compartment, Context


def get_compartment() -> Compartment:
    return None


def get_context(settings: SettingsDep) -> Context:
    return Context(settings.base_url)


CompartmentDep = Annotated[Compartment, Depends(get_compartment)]
ContextDep = Annotated[Context, Depends(get_context)]
