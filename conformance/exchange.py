"""One HTTP request and its response, with the bodies parsed once for asserts and variables."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
from lxml import etree

from conformance import fhirmodels

logger = logging.getLogger(__name__)

__all__ = ["Content", "Exchange", "HttpClient", "Request", "Response", "TransportError"]


class TransportError(RuntimeError):
    """The request could not be sent or no response came back."""


@dataclass
class Content:
    """A body as sent or received: raw bytes plus its JSON and/or XML reading."""

    raw: bytes = b""
    content_type: str = ""
    json: Any = None
    xml: etree._ElementTree | None = None

    @property
    def resource(self) -> dict[str, Any] | None:
        """The body as a FHIR JSON resource, if it is one."""
        if isinstance(self.json, dict) and "resourceType" in self.json:
            return self.json
        return None

    @classmethod
    def of_resource(cls, resource: dict[str, Any]) -> Content:
        return cls(json.dumps(resource).encode(), "application/fhir+json", resource)


def _media(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def parse_body(raw: bytes, content_type: str) -> Content:
    """Read JSON (any ``…json`` type) or XML (any ``…xml`` type) bodies; keep others raw."""
    content = Content(raw, content_type)
    media = _media(content_type)
    text = raw.lstrip()[:1]
    if media.endswith("json") or (not media and text in (b"{", b"[")):
        try:
            content.json = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            logger.debug("body announced as JSON is not JSON")
    elif media.endswith("xml") or (not media and text == b"<"):
        try:
            root = etree.fromstring(raw, parser=etree.XMLParser(resolve_entities=False))
            content.xml = etree.ElementTree(root)
            content.json = fhirmodels.resource_from_xml(raw)
        except (etree.XMLSyntaxError, fhirmodels.ModelError):
            logger.debug("XML body is not a valid FHIR resource")
    return content


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Content | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class Response:
    status: int
    headers: httpx.Headers
    body: Content

    def header(self, name: str) -> str | None:
        values = self.headers.get_list(name)
        return ", ".join(values) if values else None


@dataclass
class Exchange:
    request: Request
    response: Response


class HttpClient:
    """Sends requests as given: no redirects followed, no retries, one shared connection pool."""

    def __init__(self, timeout: float = 60.0, verify: bool = True) -> None:
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, verify=verify)

    def send(self, request: Request) -> Exchange:
        body = request.body.raw if request.body is not None else None
        try:
            reply = self._client.request(
                request.method.upper(), request.url, headers=request.headers, content=body
            )
        except (httpx.HTTPError, ValueError) as exc:
            raise TransportError(f"{request.method.upper()} {request.url}: {exc}") from exc
        content = parse_body(reply.content, reply.headers.get("content-type", ""))
        return Exchange(request, Response(reply.status_code, reply.headers, content))

    def close(self) -> None:
        self._client.close()
