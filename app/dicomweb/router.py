"""Assembles the DICOMweb routes under ``/dicomweb`` and WADO-URI at ``/wado``."""

from __future__ import annotations

from fastapi import APIRouter

from app.dicomweb import delete, frames, qido, rendered, stow, wado, wado_uri
from app.urls import DICOMWEB_PREFIX

dicomweb_router = APIRouter(prefix=DICOMWEB_PREFIX, tags=["DICOMweb"])
# QIDO before WADO: "/studies/{study}/series" must not be read as a retrieve.
dicomweb_router.include_router(qido.router)
dicomweb_router.include_router(stow.router)
dicomweb_router.include_router(wado.router)
dicomweb_router.include_router(frames.router)
dicomweb_router.include_router(rendered.router)
dicomweb_router.include_router(delete.router)

router = APIRouter()
router.include_router(dicomweb_router)
router.include_router(wado_uri.router)
