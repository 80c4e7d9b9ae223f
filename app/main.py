"""create_app(settings): routers, middleware, error handlers and the archive's lifetime."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import dicomweb, error_handlers, fhir, health, portal, viewer
from app.access.patients import resolver
from app.archive.service import Archive
from app.archive.sweep import clear_temp
from app.config import Settings
from app.fhir.study_bundle import study_collection
from app.phr import OutboxWorker, PhrService
from app.phr import routes as phr_routes
from smart import account_pages, pages
from smart import routes as smart_routes
from smart.config import SmartConfig
from smart.maintenance import purge_expired
from smart.server import SmartServer

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("imageshare.access")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        archive = Archive.open(settings)
        clear_temp(settings.tmp_dir)
        app.state.archive = archive
        app.state.smart = SmartServer(
            archive.engine, smart_config(settings), resolver(archive.engine)
        )
        purge_expired(archive.engine)
        if settings.auth == "off":
            logger.warning(
                "AUTHORIZATION IS OFF (IMAGESHARE_AUTH=off): every request is "
                "trusted. Use this only for a local demo."
            )
        if settings.demo:
            from app.demo import load_demo

            load_demo(archive, app.state.smart)
        worker = _start_phr(app, archive, settings)
        dimse = None
        if settings.dimse_port:
            from app.dimse.scp import DimseServer

            dimse = DimseServer.from_settings(archive, settings)
            dimse.start()
        # Everything loaded so far (pydicom's dictionaries, codecs, routes) lives for the whole
        # process: moving it out of the collector's reach stops full collections from scanning
        # ~100k long-lived objects, which put 40 ms pauses into 10 % of QIDO answers.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if dimse is not None:
                dimse.stop()
            if worker is not None:
                worker.stop()
            archive.close()

    app = FastAPI(title="Image Share", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["Warning", "ETag", "Location", "Content-Location", "WWW-Authenticate"],
        max_age=600,
    )
    app.add_middleware(AccessLog)
    error_handlers.install(app)
    app.include_router(health.router)
    app.include_router(dicomweb.router)
    # SMART first: /fhir/.well-known/smart-configuration must not reach the FHIR routes.
    app.include_router(smart_routes.router)
    app.include_router(pages.router)
    app.include_router(account_pages.router)
    app.include_router(portal.router)
    app.include_router(fhir.router)
    app.include_router(viewer.router)
    app.include_router(phr_routes.router)
    return app


def _start_phr(app: FastAPI, archive: Archive, settings: Settings) -> OutboxWorker | None:
    """The PHR service (with the FHIR Bundle builder injected) and, unless it runs as
    ``imageshare worker`` elsewhere, its outbox worker thread."""
    phr = PhrService(archive.engine, archive.store, settings, study_collection)
    app.state.phr = phr
    if not settings.phr_worker:
        return None
    worker = OutboxWorker(phr)
    phr.wake = worker.wake
    worker.start()
    return worker


def smart_config(settings: Settings) -> SmartConfig:
    return SmartConfig(
        base_url=settings.base_url, secure_cookies=settings.base_url.startswith("https://")
    )


class AccessLog:
    """One line per request with the route template, never the concrete path or query.

    Paths carry UIDs and queries carry patient names, which must not reach the logs. A plain
    ASGI middleware: Starlette's BaseHTTPMiddleware costs about a millisecond per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [0]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "-")
            access_logger.info(
                "%s %s %d %.1fms",
                scope["method"],
                route,
                status[0],
                (time.perf_counter() - start) * 1000,
            )
