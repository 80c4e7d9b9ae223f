"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.deps import ArchiveDep

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(archive: ArchiveDep) -> JSONResponse:
    try:
        await run_in_threadpool(archive.check)
    except Exception as exc:
        logger.warning("not ready: %s", type(exc).__name__)
        return JSONResponse(
            {"status": "unavailable", "reason": type(exc).__name__}, status_code=503
        )
    return JSONResponse({"status": "ok", "database": "ok", "storage": "ok"})
