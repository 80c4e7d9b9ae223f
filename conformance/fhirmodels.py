"""The one import site of ``fhir.resources``: R4B models for validation and FHIR XML.

fhir.resources 8.x has no R4 package and its top-level modules are R5, so only
``fhir.resources.R4B`` is used (TestScript, TestReport and the resources this engine reads are
the same in R4 and R4B). Everything else in ``conformance`` works on plain FHIR JSON dicts.
"""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.testreport import TestReport
from fhir.resources.R4B.testscript import TestScript
from lxml import etree
from pydantic import ValidationError

FHIR_NS = "http://hl7.org/fhir"

__all__ = [
    "FHIR_NS",
    "ModelError",
    "resource_from_xml",
    "resource_to_xml",
    "testreport_problems",
    "testscript_from_json",
    "testscript_from_xml",
    "validation_problems",
]


class ModelError(ValueError):
    """A document that is not a valid R4 resource of the expected type."""


def _problems(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        out.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", "invalid"))
    return out


def testscript_from_json(data: dict[str, Any]) -> dict[str, Any]:
    """Validate a TestScript (R4) given as FHIR JSON; return it unchanged."""
    if data.get("resourceType") != "TestScript":
        raise ModelError(f"not a TestScript but {data.get('resourceType')!r}")
    try:
        TestScript.model_validate(data)
    except ValidationError as exc:
        raise ModelError("invalid TestScript: " + "; ".join(_problems(exc)[:10])) from exc
    return data


def testscript_from_xml(data: bytes) -> dict[str, Any]:
    """Parse and validate a TestScript in FHIR XML; return its FHIR JSON form.

    fhir.resources' XML reader drops element ``id`` attributes, but a TestScript's fixtures
    and profiles are referenced by exactly those ids, so they are copied over from the XML.
    """
    result = _xml_to_json(data, "TestScript")
    root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False))
    for tag in ("fixture", "profile", "test"):
        for element, item in zip(
            root.findall(f"{{{FHIR_NS}}}{tag}"), result.get(tag) or [], strict=False
        ):
            if element.get("id"):
                item["id"] = element.get("id")
    return result


def resource_from_xml(data: bytes) -> dict[str, Any]:
    """Any R4 resource in FHIR XML (type taken from the root element) as FHIR JSON."""
    return _xml_to_json(data, None)


def _xml_to_json(data: bytes, expected: str | None) -> dict[str, Any]:
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as exc:
        raise ModelError(f"not well-formed XML: {exc}") from exc
    qname = etree.QName(root)
    if qname.namespace != FHIR_NS:
        raise ModelError(f"root element {qname.localname!r} is not in the FHIR namespace")
    if expected and qname.localname != expected:
        raise ModelError(f"not a {expected} but {qname.localname!r}")
    try:
        model = get_fhir_model_class(qname.localname)
    except (KeyError, ValueError) as exc:
        raise ModelError(f"unknown resource type {qname.localname!r}") from exc
    try:
        instance = model.model_validate_xml(data)
    except ValidationError as exc:
        raise ModelError(f"invalid {qname.localname}: " + "; ".join(_problems(exc)[:10])) from exc
    except (ValueError, TypeError) as exc:
        raise ModelError(f"invalid {qname.localname}: {exc}") from exc
    result: dict[str, Any] = json.loads(instance.model_dump_json())
    return result


def resource_to_xml(resource: dict[str, Any]) -> bytes:
    """FHIR XML for a resource given as FHIR JSON (element order from the model)."""
    model = get_fhir_model_class(str(resource.get("resourceType")))
    try:
        instance = model.model_validate(resource)
    except ValidationError as exc:
        raise ModelError("cannot write as XML: " + "; ".join(_problems(exc)[:5])) from exc
    out = instance.model_dump_xml(xml_declaration=True)
    return out if isinstance(out, bytes) else str(out).encode()


def validation_problems(resource: Any, type_name: str | None = None) -> list[str]:
    """Problems found by the R4B model of ``type_name`` (default: the resource's own type).

    This checks the base specification: element names, data types and cardinality.
    """
    if not isinstance(resource, dict):
        return ["the body is not a FHIR JSON resource"]
    rtype = type_name or str(resource.get("resourceType", ""))
    if resource.get("resourceType") != rtype:
        return [f"resourceType is {resource.get('resourceType')!r}, expected {rtype!r}"]
    try:
        model = get_fhir_model_class(rtype)
    except (KeyError, ValueError):
        return [f"unknown resource type {rtype!r}"]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return _problems(exc)
    return []


def testreport_problems(report: dict[str, Any]) -> list[str]:
    """Problems in a TestReport we wrote (empty when it is a valid R4 TestReport)."""
    try:
        TestReport.model_validate(report)
    except ValidationError as exc:
        return _problems(exc)
    return []
