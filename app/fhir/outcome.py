"""OperationOutcome bodies for every FHIR error (FHIR R4 operationoutcome.html, http.html).

Registered as the ``/fhir`` renderer in ``app.error_handlers``: the status comes from the one
mapping there; this module only chooses the issue code and builds the body. The body is JSON
whatever the Accept header said, since an error must reach the client (a 406 included).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from app.fhir.formats import FHIR_JSON, dumps

#: Issue type (http://hl7.org/fhir/issue-type) for each HTTP status we send.
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    503: "transient",
}


def operation_outcome(
    status: int, message: str, code: str | None = None, severity: str = "error"
) -> dict[str, Any]:
    issue: dict[str, Any] = {
        "severity": "fatal" if status >= 500 else severity,
        "code": code or ISSUE_CODES.get(status, "exception"),
        "diagnostics": message,
    }
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def warning(message: str, code: str = "informational") -> dict[str, Any]:
    return operation_outcome(200, message, code, severity="warning")


def render(_request: Request, status: int, message: str, code: str | None = None) -> Response:
    """Error renderer for ``/fhir``: ``code`` from a domain error names a parameter, if any."""
    issue_code = "not-supported" if code == "not-supported" else None
    text = (
        message if not code or code in message or code == "not-supported" else f"{code}: {message}"
    )
    return Response(
        dumps(operation_outcome(status, text, issue_code)),
        status_code=status,
        media_type=FHIR_JSON + "; charset=utf-8",
    )
