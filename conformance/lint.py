"""Static checks of a loaded TestScript: every id, variable and profile it uses is declared.

Run before a suite is published (our tests lint every suite, pending ones included), so a
typo shows up as a lint error rather than as a skip on the day the endpoint lands.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from conformance.asserts import SUBJECTS
from conformance.loader import Script
from conformance.operations import METHODS
from conformance.operators import OPERATORS
from conformance.paths import ExpressionError, check_fhirpath

_REF = re.compile(r"\$\{([^}]+)\}")
_STRING_FIELDS = (
    "url", "params", "value", "expression", "path", "headerField", "requestURL",
    "compareToSourceExpression", "compareToSourcePath",
)  # fmt: skip

__all__ = ["lint"]


def _actions(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for action in (data.get("setup") or {}).get("action") or []:
        yield "setup", action
    for test in data.get("test") or []:
        for action in test.get("action") or []:
            yield f"test {test.get('name') or test.get('id')!r}", action
    for action in (data.get("teardown") or {}).get("action") or []:
        yield "teardown", action


def lint(script: Script) -> list[str]:
    """Problems found without running the script (empty when it is consistent)."""
    data = script.data
    problems = list(script.fixture_problems.values())
    ids = set(script.fixtures) | set(script.fixture_problems)
    for _, action in _actions(data):
        op = action.get("operation") or {}
        ids.update(str(op[k]) for k in ("responseId", "requestId") if op.get(k))
    variables = {str(v.get("name")) for v in data.get("variable") or []}
    profiles = {str(p.get("id")) for p in data.get("profile") or []}
    for var in data.get("variable") or []:
        if var.get("sourceId") and var["sourceId"] not in ids:
            problems.append(f"variable {var.get('name')!r}: unknown sourceId {var['sourceId']!r}")
        problems += _expression_problems(f"variable {var.get('name')!r}", var)
    for where, action in _actions(data):
        item = action.get("operation") or action.get("assert") or {}
        label = f"{where}: {item.get('label') or item.get('description') or '(action)'}"
        for key in ("sourceId", "targetId", "compareToSourceId", "minimumId"):
            if item.get(key) and item[key] not in ids:
                problems.append(f"{label}: unknown {key} {item[key]!r}")
        texts = [str(item[f]) for f in _STRING_FIELDS if item.get(f)]
        texts += [str(h.get("value", "")) for h in item.get("requestHeader") or []]
        for name in (n for t in texts for n in _REF.findall(t)):
            if name not in variables:
                problems.append(f"{label}: ${{{name}}} is not a declared variable")
        if "assert" in action:
            problems += _assert_problems(label, item, profiles)
        else:
            code = (item.get("type") or {}).get("code")
            if code and code not in METHODS and not (item.get("url") and item.get("method")):
                problems.append(f"{label}: operation type {code!r} is not supported")
    return problems


def _assert_problems(label: str, item: dict[str, Any], profiles: set[str]) -> list[str]:
    out = []
    if not any(s in item for s in SUBJECTS) and not item.get("compareToSourceId"):
        out.append(f"{label}: the assert checks nothing")
    if item.get("operator") and item["operator"] not in OPERATORS:
        out.append(f"{label}: unknown operator {item['operator']!r}")
    if item.get("validateProfileId") and item["validateProfileId"] not in profiles:
        out.append(f"{label}: validateProfileId {item['validateProfileId']!r} is not declared")
    return out + _expression_problems(label, item)


def _expression_problems(label: str, item: dict[str, Any]) -> list[str]:
    out = []
    for key in ("expression", "compareToSourceExpression"):
        text = item.get(key)
        if text and "${" not in str(text):
            try:
                check_fhirpath(str(text))
            except ExpressionError as exc:
                out.append(f"{label}: {key} {text!r}: {exc}")
    return out
