"""Evaluate a TestScript ``assert`` (R4 TestScript.setup.action.assert) into a result.

The assert's subject is whichever of ``contentType``, ``expression``, ``headerField``,
``minimumId``, ``navigationLinks``, ``path``, ``requestMethod``, ``requestURL``, ``resource``,
``responseCode``, ``response`` or ``validateProfileId`` it carries (all of them, if several).
The expected value is ``value`` or, with ``compareToSourceId``, the result of
``compareToSourceExpression``/``compareToSourcePath`` on that fixture; an assert with only
``compareToSource…`` evaluates that expression on both sides. Anything the engine cannot
evaluate is a skip with the reason; it never passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance.exchange import Content, Exchange
from conformance.minimum import minimum_content, navigation_links
from conformance.operations import Skip, media_type
from conformance.operators import NEEDS_VALUE, OPERATORS, Verdict, compare
from conformance.paths import ExpressionError, as_text, evaluate_fhirpath, evaluate_path
from conformance.profiles import ProfileStore, validate
from conformance.state import State
from conformance.variables import UnresolvedVariable, Variables

#: R4 ``assert-response-code-types``.
RESPONSE_CODES = {
    200: "okay", 201: "created", 204: "noContent", 304: "notModified", 400: "bad",
    403: "forbidden", 404: "notFound", 405: "methodNotAllowed", 409: "conflict", 410: "gone",
    412: "preconditionFailed", 422: "unprocessable",
}  # fmt: skip
SUBJECTS = (
    "contentType", "expression", "headerField", "minimumId", "navigationLinks", "path",
    "requestMethod", "requestURL", "resource", "responseCode", "response", "validateProfileId",
)  # fmt: skip

__all__ = ["SUBJECTS", "Context", "Outcome", "evaluate_assert"]


@dataclass
class Outcome:
    """TestReport action result: pass | fail | warning | skip | error, with its message."""

    result: str
    message: str


@dataclass
class Context:
    state: State
    variables: Variables
    profiles: dict[str, str]  # TestScript.profile id -> canonical reference
    store: ProfileStore


def evaluate_assert(a: dict[str, Any], ctx: Context) -> Outcome:
    subjects = [s for s in SUBJECTS if s in a]
    if not subjects and a.get("compareToSourceId"):
        subjects = ["compareToSource"]
    if not subjects:
        return Outcome("skip", "the assert names nothing to check")
    operator = str(a.get("operator") or "equals")
    if operator not in OPERATORS:
        return Outcome("skip", f"operator {operator!r} is not supported")
    verdicts: list[Verdict] = []
    try:
        for subject in subjects:
            verdicts.append(CHECKS[subject](a, ctx, operator))
    except (Skip, UnresolvedVariable, ExpressionError) as exc:
        return Outcome("skip", str(exc))
    message = "; ".join(v.message for v in verdicts)
    if all(v.ok for v in verdicts):
        return Outcome("pass", message)
    return Outcome("warning" if a.get("warningOnly") else "fail", message)


def _direction(a: dict[str, Any]) -> str:
    return str(a.get("direction") or "response")


def _exchange(a: dict[str, Any], ctx: Context) -> Exchange:
    source = a.get("sourceId")
    exchange = ctx.state.exchange(str(source) if source else None)
    if exchange is None:
        raise Skip(f"no exchange {source!r} to check" if source else "no operation ran yet")
    return exchange


def _content(a: dict[str, Any], ctx: Context, source: Any = None, key: str = "sourceId") -> Content:
    source_id = str(source or a.get(key)) if (source or a.get(key)) else None
    content = ctx.state.content(source_id, _direction(a) if key == "sourceId" else "response")
    if content is None:
        raise Skip(f"{key} {source_id!r} is not available" if source_id else "no response yet")
    return content


def _values(a: dict[str, Any], ctx: Context, content: Content, field: str) -> list[str]:
    text = ctx.variables.substitute(str(a[field]))
    if field.endswith("xpression"):
        found = evaluate_fhirpath(text, content.json)
    else:
        found = evaluate_path(text, content.json, content.xml)
    return [as_text(v) for v in found]


def _expected(a: dict[str, Any], ctx: Context) -> str | None:
    if "value" in a:
        return ctx.variables.substitute(str(a["value"]))
    if a.get("compareToSourceId"):
        other = _content(a, ctx, key="compareToSourceId")
        field = (
            "compareToSourceExpression"
            if a.get("compareToSourceExpression")
            else ("compareToSourcePath")
        )
        if not a.get(field):
            raise Skip("compareToSourceId needs compareToSourceExpression or compareToSourcePath")
        values = _values(a, ctx, other, field)
        if not values:
            raise Skip(f"{field} {a[field]!r} finds nothing in {a['compareToSourceId']!r}")
        return values[0]
    return None


def _scalar(label: str, received: list[str], a: dict[str, Any], ctx: Context, op: str) -> Verdict:
    expected = _expected(a, ctx)
    if op in NEEDS_VALUE and expected is None:
        raise Skip(f"{label}: operator {op!r} needs a value or compareToSourceId")
    return compare(label, received, op, expected)


def _expression(a: dict[str, Any], ctx: Context, op: str, field: str = "expression") -> Verdict:
    received = _values(a, ctx, _content(a, ctx), field)
    label = f"{field} {a[field]!r}"
    boolean = op == "eval" or (
        op == "equals" and "value" not in a and not a.get("compareToSourceId")
    )
    if boolean:
        ok = received == ["true"]
        return Verdict(
            ok, f"{label} {'is' if ok else 'should be'} true; found {received or 'nothing'}"
        )
    return _scalar(label, received, a, ctx, op)


def _compare_to_source(a: dict[str, Any], ctx: Context, op: str) -> Verdict:
    field = (
        "compareToSourceExpression"
        if a.get("compareToSourceExpression")
        else ("compareToSourcePath")
    )
    if not a.get(field):
        raise Skip("compareToSourceId needs compareToSourceExpression or compareToSourcePath")
    received = _values(a, ctx, _content(a, ctx), field)
    return _scalar(f"{field} {a[field]!r}", received, a, ctx, op)


def _header(a: dict[str, Any], ctx: Context, op: str) -> Verdict:
    name = ctx.variables.substitute(str(a["headerField"]))
    exchange = _exchange(a, ctx)
    if _direction(a) == "request":
        value = exchange.request.header(name)
    else:
        value = exchange.response.header(name)
    return _scalar(f"header {name}", [value] if value is not None else [], a, ctx, op)


def _content_type(a: dict[str, Any], ctx: Context, op: str) -> Verdict:
    exchange = _exchange(a, ctx)
    if _direction(a) == "request":
        value = exchange.request.header("content-type") or ""
    else:
        value = exchange.response.header("content-type") or ""
    expected = media_type(ctx.variables.substitute(str(a["contentType"]))) or ""
    if op in ("equals", "notEquals", "in", "notIn"):
        value = value.split(";", 1)[0].strip().lower()
    return compare("Content-Type", [value], op, expected)


def _response_code(a: dict[str, Any], ctx: Context, op: str) -> Verdict:
    expected = ctx.variables.substitute(str(a["responseCode"]))
    if op == "equals" and "," in expected:
        op = "in"
    return compare("response code", [str(_exchange(a, ctx).response.status)], op, expected)


def _response(a: dict[str, Any], ctx: Context, op: str) -> Verdict:
    status = _exchange(a, ctx).response.status
    received = RESPONSE_CODES.get(status, str(status))
    return compare(f"response ({status})", [received], op, str(a["response"]))


def _resource(a: dict[str, Any], ctx: Context, op: str) -> Verdict:
    resource = _content(a, ctx).resource
    received = [str(resource["resourceType"])] if resource else []
    return compare("resource type", received, op, str(a["resource"]))


def _request_method(a: dict[str, Any], ctx: Context, op: str) -> Verdict:
    method = _exchange(a, ctx).request.method.lower()
    return compare("request method", [method], op, str(a["requestMethod"]).lower())


def _request_url(a: dict[str, Any], ctx: Context, op: str) -> Verdict:
    expected = ctx.variables.substitute(str(a["requestURL"]))
    return compare("request URL", [_exchange(a, ctx).request.url], op, expected)


def _minimum(a: dict[str, Any], ctx: Context, _op: str) -> Verdict:
    minimum = ctx.state.resource(str(a["minimumId"]))
    if minimum is None:
        raise Skip(f"minimumId {a['minimumId']!r} is not a known fixture")
    return minimum_content(minimum, _content(a, ctx).json)


def _navigation(a: dict[str, Any], ctx: Context, _op: str) -> Verdict:
    return navigation_links(_content(a, ctx).json, bool(a["navigationLinks"]))


def _profile(a: dict[str, Any], ctx: Context, _op: str) -> Verdict:
    profile_id = str(a["validateProfileId"])
    reference = ctx.profiles.get(profile_id)
    if reference is None:
        raise Skip(f"validateProfileId {profile_id!r} is not declared in TestScript.profile")
    verdict = validate(_content(a, ctx).json, reference, ctx.store)
    if verdict is None:
        raise Skip(f"profile {reference} is not available (no StructureDefinition in profiles/)")
    return verdict


Check = Callable[[dict[str, Any], Context, str], Verdict]
CHECKS: dict[str, Check] = {
    "contentType": _content_type,
    "expression": _expression,
    "headerField": _header,
    "minimumId": _minimum,
    "navigationLinks": _navigation,
    "path": lambda a, ctx, op: _expression(a, ctx, op, "path"),
    "requestMethod": _request_method,
    "requestURL": _request_url,
    "resource": _resource,
    "responseCode": _response_code,
    "response": _response,
    "validateProfileId": _profile,
    "compareToSource": _compare_to_source,
}
