"""DELETE of a study, series or instance (not in PS3.18; as Orthanc and dcm4chee offer it)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app.access.deps import AdminOnly
from app.archive.deletion import delete_scope
from app.archive.retrieve import Scope
from app.deps import ArchiveDep

router = APIRouter()


async def _delete(archive: ArchiveDep, scope: Scope, caller: AdminOnly) -> Response:
    await run_in_threadpool(delete_scope, archive.engine, archive.store, scope, caller.compartment)
    return Response(status_code=204)


@router.delete("/studies/{study}", status_code=204)
async def delete_study(study: str, archive: ArchiveDep, caller: AdminOnly) -> Response:
    return await _delete(archive, Scope(study), caller)


@router.delete("/studies/{study}/series/{series}", status_code=204)
async def delete_series(
    study: str, series: str, archive: ArchiveDep, caller: AdminOnly
) -> Response:
    return await _delete(archive, Scope(study, series), caller)


@router.delete("/studies/{study}/series/{series}/instances/{instance}", status_code=204)
async def delete_instance(
    study: str, series: str, instance: str, archive: ArchiveDep, caller: AdminOnly
) -> Response:
    return await _delete(archive, Scope(study, series, instance), caller)
