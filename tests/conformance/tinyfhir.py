"""A tiny in-memory FHIR server for the engine's own tests, correct or deliberately wrong.

With ``wrong=True`` it breaks the rules a conformance engine must catch: create answers 200
without Location, the wrong media type, altered names, dropped identifiers, no paging links,
a wrong fhirVersion, delete refused and request headers ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import free_port

FHIR_JSON = "application/fhir+json"


class TinyFhir:
    def __init__(self, wrong: bool = False) -> None:
        self.wrong = wrong
        self.store: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.counter = 0
        self.requests: list[tuple[str, str]] = []

    # -- helpers -------------------------------------------------------------------------
    def reply(
        self, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        media = "application/json" if self.wrong else FHIR_JSON
        text = json.dumps(body) if body is not None else ""
        return Response(
            text,
            status_code=status,
            media_type=media if body is not None else None,
            headers=headers,
        )

    def outcome(self, status: int, text: str) -> Response:
        issue = {
            "severity": "error",
            "code": "not-found" if status == 404 else "invalid",
            "diagnostics": text,
        }
        return self.reply({"resourceType": "OperationOutcome", "issue": [issue]}, status)

    def current(self, rtype: str, rid: str) -> dict[str, Any] | None:
        versions = self.store.get(rtype, {}).get(rid)
        return versions[-1] if versions else None

    def save(self, rtype: str, rid: str, resource: dict[str, Any]) -> dict[str, Any]:
        versions = self.store.setdefault(rtype, {}).setdefault(rid, [])
        resource = dict(resource, id=rid, resourceType=rtype)
        resource["meta"] = {
            "versionId": str(len(versions) + 1),
            "lastUpdated": "2024-01-01T00:00:00Z",
        }
        versions.append(resource)
        return resource

    def shown(self, resource: dict[str, Any]) -> dict[str, Any]:
        if not self.wrong or resource.get("resourceType") != "Patient":
            return resource
        out = json.loads(json.dumps(resource))
        out.pop("identifier", None)
        for name in out.get("name", []):
            name["family"] = "Wrong"
        return out

    def headers_for(self, resource: dict[str, Any], base: str) -> dict[str, str]:
        if self.wrong:
            return {}
        vid = resource["meta"]["versionId"]
        return {
            "Location": f"{base}/{resource['resourceType']}/{resource['id']}/_history/{vid}",
            "ETag": f'W/"{vid}"',
            "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
        }

    # -- endpoints -----------------------------------------------------------------------
    async def metadata(self, request: Request) -> Response:
        cap = {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2024-01-01",
            "kind": "instance",
            "fhirVersion": "3.0.2" if self.wrong else "4.0.1",
            "format": ["json"],
            "rest": [{"mode": "server", "resource": [{"type": "Patient"}]}],
        }
        return self.reply(cap)

    async def type_level(self, request: Request) -> Response:
        rtype = request.path_params["rtype"]
        base = str(request.base_url).rstrip("/") + "/fhir"
        if request.method == "POST":
            body = json.loads(await request.body())
            if body.get("resourceType") != rtype:
                return self.outcome(400, "resourceType does not match the URL")
            self.counter += 1
            saved = self.save(rtype, f"t{self.counter}", body)
            return self.reply(
                self.shown(saved), 200 if self.wrong else 201, self.headers_for(saved, base)
            )
        return self.search(request, rtype, base)

    def search(self, request: Request, rtype: str, base: str) -> Response:
        params = request.query_params
        matches = [v[-1] for v in self.store.get(rtype, {}).values()]
        if "family" in params:
            want = params["family"].lower()
            matches = [
                r
                for r in matches
                if any(n.get("family", "").lower().startswith(want) for n in r.get("name", []))
            ]
        count = int(params.get("_count", "10"))
        offset = int(params.get("_offset", "0"))
        page = matches[offset : offset + count]
        query = "&".join(f"{k}={v}" for k, v in params.items() if k != "_offset")
        link = [{"relation": "self", "url": f"{base}/{rtype}?{query}&_offset={offset}"}]
        if not self.wrong:
            last = max(0, (len(matches) - 1) // count * count)
            link.append({"relation": "first", "url": f"{base}/{rtype}?{query}&_offset=0"})
            link.append({"relation": "last", "url": f"{base}/{rtype}?{query}&_offset={last}"})
            if offset + count < len(matches):
                link.append(
                    {"relation": "next", "url": f"{base}/{rtype}?{query}&_offset={offset + count}"}
                )
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches) + (1 if self.wrong else 0),
            "link": link,
            "entry": [
                {
                    "fullUrl": f"{base}/{rtype}/{r['id']}",
                    "resource": self.shown(r),
                    "search": {"mode": "match"},
                }
                for r in page
            ],
        }
        return self.reply(bundle)

    async def instance(self, request: Request) -> Response:
        rtype, rid = request.path_params["rtype"], request.path_params["rid"]
        base = str(request.base_url).rstrip("/") + "/fhir"
        if request.method == "PUT":
            body = json.loads(await request.body())
            if body.get("id") != rid:
                return self.outcome(400, "id in the body does not match the URL")
            existed = self.current(rtype, rid) is not None
            saved = self.save(rtype, rid, body)
            status = 200 if existed or self.wrong else 201
            return self.reply(self.shown(saved), status, self.headers_for(saved, base))
        if request.method == "DELETE":
            if self.wrong:
                return self.outcome(405, "delete is not allowed")
            self.store.get(rtype, {}).pop(rid, None)
            return Response(status_code=204)
        resource = self.current(rtype, rid)
        if resource is None:
            return self.outcome(404, f"{rtype}/{rid} not found")
        headers = self.headers_for(resource, base)
        headers.pop("Location", None)
        return self.reply(self.shown(resource), 200, headers)

    async def vread(self, request: Request) -> Response:
        p = request.path_params
        versions = self.store.get(p["rtype"], {}).get(p["rid"], [])
        index = int(p["vid"]) - 1
        if not 0 <= index < len(versions):
            return self.outcome(404, "no such version")
        return self.reply(self.shown(versions[index]))

    async def history(self, request: Request) -> Response:
        p = request.path_params
        versions = self.store.get(p["rtype"], {}).get(p["rid"], [])
        return self.reply(
            {
                "resourceType": "Bundle",
                "type": "history",
                "total": len(versions),
                "entry": [{"resource": v} for v in reversed(versions)],
            }
        )

    async def system(self, request: Request) -> Response:
        bundle = json.loads(await request.body())
        kind = bundle.get("type")
        if kind not in ("transaction", "batch"):
            return self.outcome(400, "expected a transaction or batch Bundle")
        entries = []
        for entry in bundle.get("entry", []):
            resource = entry.get("resource", {})
            self.counter += 1
            saved = self.save(resource["resourceType"], f"t{self.counter}", resource)
            entries.append(
                {
                    "response": {
                        "status": "201 Created",
                        "location": f"{saved['resourceType']}/{saved['id']}/_history/1",
                    }
                }
            )
        return self.reply({"resourceType": "Bundle", "type": f"{kind}-response", "entry": entries})

    async def echo(self, request: Request) -> Response:
        """Raw (non-FHIR) endpoint: what arrived, so request building can be checked."""
        body = await request.body()
        headers = {k: v for k, v in request.headers.items()}
        if self.wrong:
            headers.pop("x-test-header", None)
        data = {
            "method": request.method,
            "query": str(request.url.query),
            "headers": headers,
            "sha256": hashlib.sha256(body).hexdigest(),
            "length": len(body),
        }
        return Response(json.dumps(data), media_type="application/json", headers={"X-Echo": "yes"})

    def app(self) -> Starlette:
        async def record(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                self.requests.append((scope["method"], scope["path"]))
            await inner(scope, receive, send)

        inner = Starlette(
            routes=[
                Route("/fhir/metadata", self.metadata, methods=["GET"]),
                Route("/fhir", self.system, methods=["POST"]),
                Route("/raw/echo", self.echo, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
                Route("/fhir/{rtype}", self.type_level, methods=["GET", "POST"]),
                Route("/fhir/{rtype}/{rid}", self.instance, methods=["GET", "PUT", "DELETE"]),
                Route("/fhir/{rtype}/{rid}/_history", self.history, methods=["GET"]),
                Route("/fhir/{rtype}/{rid}/_history/{vid}", self.vread, methods=["GET"]),
            ]
        )
        return record  # type: ignore[return-value]


@contextlib.contextmanager
def serve(wrong: bool = False) -> Iterator[tuple[str, TinyFhir]]:
    """Run a TinyFhir on a free loopback port; yields (FHIR base URL, the server object)."""
    tiny = TinyFhir(wrong)
    port = free_port()
    config = uvicorn.Config(tiny.app(), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/fhir", tiny
    finally:
        server.should_exit = True
        thread.join(timeout=10)
