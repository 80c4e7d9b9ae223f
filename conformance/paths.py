"""Evaluate a TestScript ``expression`` (FHIRPath) or ``path`` (XPath or JSONPath).

FHIRPath runs on fhirpathpy with the R4 model. TestScript R4 defines ``path`` as "XPath or
JSONPath": a path starting with ``$`` is JSONPath (jsonpath-ng); anything else is XPath 1.0
(elementpath, with the document node as context as XPath defines) over the FHIR XML form of
the body. As in Touchstone and the fhir-crucible engine,
plain steps without a prefix (``Patient/id``) are read in the FHIR namespace and an element
result stands for its ``value`` attribute.
"""

from __future__ import annotations

import functools
import json
import re
from decimal import Decimal
from typing import Any

import elementpath
from antlr4 import CommonTokenStream, InputStream, Token
from antlr4.error.ErrorListener import ErrorListener
from elementpath import XPath1Parser
from fhirpathpy import evaluate as fhirpath_evaluate
from fhirpathpy.engine import nodes
from fhirpathpy.models import models
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser
from jsonpath_ng.exceptions import JsonPathParserError
from jsonpath_ng.ext.parser import parse as jsonpath_parse
from lxml import etree

from conformance.fhirmodels import FHIR_NS
from conformance.fhirxml import to_xml

NAMESPACES = {"fhir": FHIR_NS, "f": FHIR_NS, "xhtml": "http://www.w3.org/1999/xhtml"}
_PLAIN_STEPS = re.compile(r"^/{0,2}[A-Za-z_][\w-]*(/{1,2}(@?[A-Za-z_][\w-]*|\*))*$")

__all__ = ["ExpressionError", "as_text", "check_fhirpath", "evaluate_fhirpath", "evaluate_path"]


class ExpressionError(ValueError):
    """An expression or path this engine cannot evaluate on the given content."""


def _fhirpath_root(body: Any) -> Any:
    """Non-FHIR JSON (e.g. DICOM JSON) is wrapped so fhirpathpy does not read a leading
    capitalised or numeric name (``00100010``) as a resource type filter."""
    if isinstance(body, dict) and "resourceType" in body:
        return body
    if isinstance(body, list):
        return [nodes.ResourceNode.create_node(x) for x in body]  # type: ignore[no-untyped-call]
    return nodes.ResourceNode.create_node(body)  # type: ignore[no-untyped-call]


class _RaiseOnError(ErrorListener):  # type: ignore[misc]
    def syntaxError(self, _r: Any, _s: Any, _line: int, column: int, msg: str, _e: Any) -> None:
        raise ExpressionError(f"column {column}: {msg}")


@functools.lru_cache(maxsize=512)
def _check_syntax(expression: str) -> None:
    """fhirpathpy's parser recovers silently from syntax errors (evaluating what it could
    read), so the same ANTLR grammar is run first with a listener that raises."""
    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(_RaiseOnError())
    stream = CommonTokenStream(lexer)
    parser = FHIRPathParser(stream)
    parser.removeErrorListeners()
    parser.addErrorListener(_RaiseOnError())
    parser.expression()
    if stream.LA(1) != Token.EOF:
        raise ExpressionError(f"unexpected text after column {stream.LT(1).start}")


def check_fhirpath(expression: str) -> None:
    """Raise ExpressionError if the expression is not valid FHIRPath syntax."""
    _check_syntax(expression)


def evaluate_fhirpath(expression: str, body: Any) -> list[Any]:
    """The collection an expression yields on a body (FHIR JSON, or any JSON)."""
    try:
        _check_syntax(expression)
    except ExpressionError as exc:
        raise ExpressionError(f"FHIRPath {expression!r} is not valid: {exc}") from exc
    if body is None:
        raise ExpressionError("there is no content to evaluate the expression on")
    env = {"resource": body, "rootResource": body, "context": body}
    try:
        result = fhirpath_evaluate(_fhirpath_root(body), expression, env, models["r4"])
    except Exception as exc:  # fhirpathpy raises bare Exception for syntax and type errors
        raise ExpressionError(f"FHIRPath {expression!r}: {exc or type(exc).__name__}") from exc
    return list(result) if isinstance(result, list) else [result]


def evaluate_path(path: str, body: Any, xml: etree._ElementTree | None = None) -> list[Any]:
    """Values selected by a JSONPath (``$…``) or XPath ``path``."""
    if path.startswith("$"):
        return _jsonpath(path, body)
    return _xpath(path, body, xml)


def _jsonpath(path: str, body: Any) -> list[Any]:
    if body is None:
        raise ExpressionError("there is no JSON content to evaluate the JSONPath on")
    try:
        compiled = jsonpath_parse(path)
    except (JsonPathParserError, Exception) as exc:
        raise ExpressionError(f"JSONPath {path!r}: {exc}") from exc
    return [m.value for m in compiled.find(body)]


def _fhir_steps(path: str) -> str:
    """``Patient/name/family`` → ``fhir:Patient/fhir:name/fhir:family`` (plain paths only)."""
    if not _PLAIN_STEPS.match(path):
        return path
    return re.sub(r"(^|/)([A-Za-z_][\w-]*)", r"\1fhir:\2", path)


def _xpath(path: str, body: Any, xml: etree._ElementTree | None) -> list[Any]:
    if xml is None:
        if not isinstance(body, dict) or "resourceType" not in body:
            raise ExpressionError(f"XPath {path!r} needs a FHIR resource (XML or JSON)")
        xml = to_xml(body)
    expr = _fhir_steps(path)
    try:
        found = elementpath.select(xml, expr, namespaces=NAMESPACES, parser=XPath1Parser)
    except elementpath.ElementPathError as exc:
        raise ExpressionError(f"XPath {path!r}: {exc}") from exc
    if not isinstance(found, list):
        return [found]
    values: list[Any] = []
    for item in found:
        if isinstance(item, etree._Element):
            value = item.get("value")
            values.append(value if value is not None else "".join(item.itertext()))
        else:
            values.append(str(item))
    return values


def as_text(value: Any) -> str:
    """The string form TestScript compares: FHIR JSON primitives, JSON for anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | Decimal | str):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if value is None:
        return ""
    return str(value)
