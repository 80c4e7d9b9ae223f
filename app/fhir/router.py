"""Assembles the FHIR routes under ``/fhir`` and registers the OperationOutcome renderer."""

from __future__ import annotations

from fastapi import APIRouter

from app import error_handlers
from app.fhir import create, outcome, routes
from app.urls import FHIR_PREFIX

error_handlers.RENDERERS[FHIR_PREFIX] = outcome.render

router = APIRouter(prefix=FHIR_PREFIX, tags=["FHIR"])
# Create before the generic routes: POST /Binary must not be taken for anything else.
router.include_router(create.router)
router.include_router(routes.router)
