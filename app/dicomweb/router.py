"""Assembles the DICOMweb routes under ``/dicomweb``."""

from __future__ import annotations

from fastapi import APIRouter

from app.dicomweb import delete, frames, qido, rendered, stow, wado
from app.urls import DICOMWEB_PREFIX

router = APIRouter(prefix=DICOMWEB_PREFIX, tags=["DICOMweb"])
# QIDO before WADO: "/studies/{study}/series" must not be read as a retrieve.
router.include_router(qido.router)
router.include_router(stow.router)
router.include_router(wado.router)
router.include_router(frames.router)
router.include_router(rendered.router)
router.include_router(delete.router)
