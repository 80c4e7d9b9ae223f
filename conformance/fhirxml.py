"""FHIR JSON to FHIR XML, for evaluating the XPath ``path`` of published TestScripts.

Follows the mapping of FHIR R4 "XML Representation" / "JSON Representation": primitives are
elements with a ``value`` attribute, ``_name`` carries their ``id``/``extension``, arrays repeat
the element, nested resources are wrapped in an element named after the resource type, the
narrative ``div`` is XHTML, and ``url`` of an extension is an attribute. It needs no type
information, so it also works on responses that are not valid resources (a server under test
may send anything), which the model-based writer in ``fhirmodels`` would refuse.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from conformance.fhirmodels import FHIR_NS

XHTML_NS = "http://www.w3.org/1999/xhtml"

__all__ = ["to_xml"]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _add_object(parent: etree._Element, name: str, value: dict[str, Any]) -> None:
    if "resourceType" in value:
        wrapper = etree.SubElement(parent, f"{{{FHIR_NS}}}{name}")
        _fill(etree.SubElement(wrapper, f"{{{FHIR_NS}}}{value['resourceType']}"), value)
        return
    _fill(etree.SubElement(parent, f"{{{FHIR_NS}}}{name}"), value)


def _add_primitive(parent: etree._Element, name: str, value: Any, extra: Any) -> None:
    el = etree.SubElement(parent, f"{{{FHIR_NS}}}{name}")
    if value is not None:
        el.set("value", _text(value))
    if isinstance(extra, dict):
        _fill(el, extra)


def _add_div(parent: etree._Element, value: str) -> None:
    try:
        div = etree.fromstring(value.encode(), parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        div = etree.Element(f"{{{XHTML_NS}}}div")
        div.text = value
    parent.append(div)


def _fill(el: etree._Element, obj: dict[str, Any]) -> None:
    for key, value in obj.items():
        if key == "resourceType" or key.startswith("_") or key == "fhir_comments":
            continue
        if key in ("url", "id") and _is_attr(el, key):
            el.set(key, _text(value))
            continue
        if key == "div" and isinstance(value, str):
            _add_div(el, value)
            continue
        extra = obj.get(f"_{key}")
        if isinstance(value, list):
            extras = extra if isinstance(extra, list) else []
            for i, item in enumerate(value):
                _add_value(el, key, item, extras[i] if i < len(extras) else None)
        else:
            _add_value(el, key, value, extra)
    for key, extra in obj.items():
        name = key[1:]
        if key.startswith("_") and name not in obj and isinstance(extra, dict):
            _add_primitive(el, name, None, extra)


def _is_attr(el: etree._Element, key: str) -> bool:
    """``url`` is an attribute of extensions; ``id`` of data type elements, not resources.

    Resource elements are named by their (capitalised) type, data type elements in camelCase.
    """
    local = str(etree.QName(el).localname)
    if key == "url":
        return local in ("extension", "modifierExtension")
    return local[:1].islower()


def _add_value(parent: etree._Element, name: str, value: Any, extra: Any) -> None:
    if isinstance(value, dict):
        _add_object(parent, name, value)
    else:
        _add_primitive(parent, name, value, extra)


def to_xml(resource: dict[str, Any]) -> etree._ElementTree:
    """The XML document of a FHIR JSON resource (root element named by ``resourceType``)."""
    rtype = str(resource.get("resourceType") or "Resource")
    root = etree.Element(f"{{{FHIR_NS}}}{rtype}", nsmap={None: FHIR_NS})
    _fill(root, resource)
    return etree.ElementTree(root)
