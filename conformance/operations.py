"""Turn a TestScript ``operation`` into an HTTP request, and record what came back.

URL rules (R4 TestScript.setup.action.operation): ``url`` wins (resolved against the base as an
RFC 3986 reference, so ``../dicomweb/studies`` leaves the FHIR base); else ``params`` appended
to ``[base]/[resource]``; else ``targetId`` gives ``[base]/[type]/[id]``; else the operation
type's own endpoint (create → ``[base]/[type]``, capabilities → ``[base]/metadata``,
transaction/batch → ``[base]``). An operation without ``type`` is a raw HTTP call of
``method`` (default GET) on ``url``, which is how non-FHIR surfaces such as DICOMweb are tested.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin

from conformance import fhirmodels
from conformance.exchange import Content, Exchange, Request, parse_body
from conformance.state import State
from conformance.variables import Variables

FORMATS = {"json": "application/fhir+json", "xml": "application/fhir+xml", "ttl": "text/turtle"}
METHODS = {
    "read": "GET", "vread": "GET", "search": "GET", "history": "GET", "capabilities": "GET",
    "create": "POST", "transaction": "POST", "batch": "POST",
    "update": "PUT", "updateCreate": "PUT",
    "delete": "DELETE", "deleteCondSingle": "DELETE", "deleteCondMultiple": "DELETE",
}  # fmt: skip
_LOCATION_ID = re.compile(r"/([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/([^/?#]+))?/?$")

__all__ = ["FORMATS", "METHODS", "Skip", "build_request", "media_type", "record"]


class Skip(Exception):
    """The engine cannot run this action; the message says why."""


@dataclass
class Target:
    base: str
    token: str | None = None


def media_type(code: str | None) -> str | None:
    """``json``/``xml`` shorthands (STU3 and Touchstone) or a full MIME type; ``none`` → omit."""
    if not code or code == "none":
        return None
    return FORMATS.get(code, code)


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p)])


def _encode(url: str) -> str:
    """Percent-encode the query of a URL (encodeRequestUrl); existing escapes are kept."""
    path, sep, query = url.partition("?")
    if not sep:
        return url
    pairs = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        pairs.append(quote(name, safe=":$*-._~%") + eq + quote(value, safe=":/,$*-._~%"))
    return path + "?" + "&".join(pairs)


def _url(op: dict[str, Any], code: str | None, state: State, v: Variables, base: str) -> str:
    resource_type = str(op.get("resource") or "")
    if op.get("url"):
        return urljoin(base.rstrip("/") + "/", v.substitute(str(op["url"])))
    if op.get("params") is not None:
        params = v.substitute(str(op["params"]))
        if code == "search" and str(op.get("method", "")).lower() == "post":
            return _join(base, resource_type, "_search")
        return _join(base, resource_type) + params
    if op.get("targetId"):
        return _target_url(op, code, state, base)
    source = state.resource(op["sourceId"]) if op.get("sourceId") else None
    source_type = str((source or {}).get("resourceType") or "")
    if code == "create":
        return _join(base, resource_type or source_type)
    if code in ("update", "updateCreate") and source and source.get("id"):
        return _join(base, resource_type or source_type, str(source["id"]))
    if code == "capabilities":
        return _join(base, "metadata")
    if code in ("transaction", "batch"):
        return base
    if code == "search" and resource_type:
        return _join(base, resource_type)
    if code == "history":
        return _join(base, resource_type, "_history")
    raise Skip(f"cannot build a URL for operation {code or op.get('method', 'get')!r}")


def _target_url(op: dict[str, Any], code: str | None, state: State, base: str) -> str:
    target = str(op["targetId"])
    rid = state.server_id(target)
    if rid is None:
        raise Skip(f"targetId {target!r} has no id on the server (was it created?)")
    resource = state.resource(target) or {}
    rtype = str(op.get("resource") or resource.get("resourceType") or "")
    if not rtype:
        raise Skip(f"targetId {target!r}: resource type unknown; set operation.resource")
    if code == "vread":
        version = state.server_versions.get(target) or (resource.get("meta") or {}).get("versionId")
        if not version:
            raise Skip(f"targetId {target!r} has no known version for vread")
        return _join(base, rtype, rid, "_history", str(version))
    if code == "history":
        return _join(base, rtype, rid, "_history")
    return _join(base, rtype, rid)


def _body(op: dict[str, Any], state: State, v: Variables, ctype: str | None) -> Content | None:
    content = state.content(str(op["sourceId"])) if op.get("sourceId") else None
    if content is None:
        if op.get("sourceId"):
            raise Skip(f"sourceId {op['sourceId']!r} names no fixture or response")
        return None
    resource = content.resource
    is_fhir = ctype is None or ctype.startswith("application/fhir+") or ctype.endswith("json")
    if resource and resource.get("resourceType") == "Binary" and not is_fhir:
        data = base64.b64decode(str(resource.get("data", "")))
        return parse_body(data, ctype or str(resource.get("contentType", "")))
    if resource is None:
        return parse_body(content.raw, ctype or content.content_type)
    if ctype and "xml" in ctype:
        text = fhirmodels.resource_to_xml(resource).decode()
    else:
        text = json.dumps(resource, ensure_ascii=False)
    return parse_body(v.substitute(text).encode(), ctype or FORMATS["json"])


def _request_header(op: dict[str, Any], name: str, v: Variables) -> str | None:
    for header in op.get("requestHeader") or []:
        if str(header.get("field", "")).lower() == name:
            return v.substitute(str(header.get("value", "")))
    return None


def build_request(op: dict[str, Any], state: State, v: Variables, target: Target) -> Request:
    """The request an operation describes (raises Skip or UnresolvedVariable)."""
    code = (op.get("type") or {}).get("code")
    if code is not None and code not in METHODS and not (op.get("url") and op.get("method")):
        raise Skip(f"operation type {code!r} is not supported (give url and method to run it)")
    method = str(op.get("method") or METHODS.get(code or "", "GET")).upper()
    url = _url(op, code, state, v, target.base)
    if op.get("encodeRequestUrl", True):
        url = _encode(url)
    headers: dict[str, str] = {}
    accept = media_type(op.get("accept")) or (FORMATS["json"] if code else None)
    if accept:
        headers["Accept"] = accept
    ctype = media_type(op.get("contentType")) or _request_header(op, "content-type", v)
    body = None
    if code == "search" and method == "POST":
        form = v.substitute(str(op.get("params", ""))).lstrip("?").encode()
        body = Content(form, "application/x-www-form-urlencoded")
        ctype = "application/x-www-form-urlencoded"
    elif method in ("POST", "PUT", "PATCH"):
        body = _body(op, state, v, ctype)
        ctype = ctype or (body.content_type if body else None)
    if ctype and body is not None:
        headers["Content-Type"] = ctype
    for header in op.get("requestHeader") or []:
        headers[str(header["field"])] = v.substitute(str(header.get("value", "")))
    if target.token and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = f"Bearer {target.token}"
    return Request(method, url, headers, body)


def record(op: dict[str, Any], exchange: Exchange, state: State) -> None:
    """Remember the exchange under its ids, and server ids of what was created or read."""
    state.last = exchange
    if op.get("responseId"):
        state.responses[str(op["responseId"])] = exchange
    if op.get("requestId"):
        state.requests[str(op["requestId"])] = exchange
    code = (op.get("type") or {}).get("code")
    response = exchange.response
    if not 200 <= response.status < 300:
        return
    if code in ("delete", "deleteCondSingle") and op.get("targetId"):
        state.server_ids.pop(str(op["targetId"]), None)
        return
    rid, version = _created_id(exchange)
    if rid is None:
        return
    for key in (op.get("sourceId"), op.get("responseId")):
        if key and (code in ("create", "update", "updateCreate") or key == op.get("responseId")):
            state.server_ids[str(key)] = rid
            if version:
                state.server_versions[str(key)] = version


def _created_id(exchange: Exchange) -> tuple[str | None, str | None]:
    resource = exchange.response.body.resource
    if resource and resource.get("id") and resource.get("resourceType") != "Bundle":
        version = (resource.get("meta") or {}).get("versionId")
        return str(resource["id"]), str(version) if version else None
    location = exchange.response.header("location") or exchange.response.header("content-location")
    match = _LOCATION_ID.search(location or "")
    if match:
        return match.group(2), match.group(3)
    return None, None
