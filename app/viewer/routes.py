"""``/viewer``: OHIF's static files and an ``app-config.js`` pointing at our DICOMweb service.

The configuration is generated per request from the page's own origin, so the viewer talks to
the server that served it (``/dicomweb`` for QIDO/WADO-RS, ``/wado`` for WADO-URI). Unknown
paths without a file extension fall back to ``index.html`` (OHIF routes in the browser); a
missing asset is a 404. Without an installed build (``make viewer``) ``/viewer`` says so (503).
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from app.deps import SettingsDep
from app.errors import NotFound, ServiceUnavailable
from app.viewer import launch

router = APIRouter(tags=["viewer"])

mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".mjs")

#: OHIF 3.x data source: the default extension's DICOMweb client (OHIF docs, "Data Sources").
_DATA_SOURCE = {
    "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
    "sourceName": "imageshare",
    "configuration": {
        "friendlyName": "Image Share",
        "name": "imageshare",
        "qidoSupportsIncludeField": True,
        "supportsReject": False,
        "imageRendering": "wadors",
        "thumbnailRendering": "wadors",
        "enableStudyLazyLoad": True,
        "supportsFuzzyMatching": True,
        "supportsWildcard": True,
        "staticWado": False,
        "singlepart": "bulkdata,video,pdf",
        "bulkDataURI": {"enabled": True},
        "omitQuotationForMultipartRequest": True,
    },
}


def app_config() -> str:
    """``window.config`` for OHIF; roots are filled in from ``window.location.origin``."""
    config = {
        "routerBasename": "/viewer",
        "extensions": [],
        "modes": [],
        "customizationService": {},
        "showStudyList": True,
        "maxNumberOfWebWorkers": 2,
        "showWarningMessageForCrossOrigin": False,
        "showCPUFallbackMessage": True,
        "showLoadingIndicator": True,
        "strictZSpacingForVolumeViewport": True,
        "defaultDataSourceName": "imageshare",
        "dataSources": [_DATA_SOURCE],
    }
    return (
        "window.config = " + json.dumps(config, indent=2) + ";\n"
        "(function (source) {\n"
        "  var origin = window.location.origin;\n"
        "  source.qidoRoot = origin + '/dicomweb';\n"
        "  source.wadoRoot = origin + '/dicomweb';\n"
        "  source.wadoUriRoot = origin + '/wado';\n"
        "})(window.config.dataSources[0].configuration);\n"
    )


def _dist(settings: SettingsDep) -> Path:
    dist = settings.viewer_dir
    if not (dist / "index.html").is_file():
        raise ServiceUnavailable("the OHIF viewer is not installed: run `make viewer`")
    return dist


@router.get("/viewer", include_in_schema=False)
async def viewer_root() -> Response:
    return RedirectResponse("/viewer/", status_code=307)


@router.get("/viewer/app-config.js", include_in_schema=False)
async def viewer_config() -> Response:
    return Response(
        app_config(), media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )


@router.get("/viewer/launch", include_in_schema=False)
@router.get("/viewer/callback", include_in_schema=False)
async def viewer_smart_launch(settings: SettingsDep) -> Response:
    """The two steps of the viewer's SMART launch (see ``app.viewer.launch``)."""
    return HTMLResponse(
        launch.page(settings.viewer_client_id),
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.get("/viewer/smart-launch.js", include_in_schema=False)
async def viewer_smart_launch_script() -> Response:
    return FileResponse(
        launch.SCRIPT, media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )


@router.get("/viewer/{path:path}", include_in_schema=False)
async def viewer_file(path: str, settings: SettingsDep) -> Response:
    dist = _dist(settings).resolve()
    target = (dist / path).resolve() if path else dist / "index.html"
    if dist not in target.parents and target != dist / "index.html":
        raise NotFound("no such file")
    if target.is_file():
        hashed = ".bundle." in target.name or target.suffix in (".wasm", ".woff2")
        cache = "public, max-age=31536000, immutable" if hashed else "no-cache"
        return FileResponse(target, headers={"Cache-Control": cache})
    if "." in Path(path).name:
        raise NotFound("no such file")
    return FileResponse(dist / "index.html", headers={"Cache-Control": "no-cache"})
