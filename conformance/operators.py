"""TestScript assert operators (R4 value set ``assert-operator-codes``).

Scalar operators compare the first value found, as Touchstone and the fhir-crucible engine do
(an XPath on ``given`` compares the first given name); ``empty``/``notEmpty`` and
``contains``/``notContains`` look at every value.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NEEDS_VALUE", "OPERATORS", "Verdict", "compare"]

OPERATORS = (
    "equals", "notEquals", "in", "notIn", "greaterThan", "lessThan",
    "empty", "notEmpty", "contains", "notContains", "eval",
)  # fmt: skip
NEEDS_VALUE = frozenset(OPERATORS) - {"empty", "notEmpty", "eval"}


@dataclass
class Verdict:
    ok: bool
    message: str


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _order(received: str, expected: str) -> int:
    """-1, 0, 1 comparing numerically when both are numbers, else as strings (ISO dates)."""
    a, b = _number(received), _number(expected)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    return (received > expected) - (received < expected)


def _show(values: list[str]) -> str:
    if not values:
        return "nothing"
    shown = ", ".join(repr(v if len(v) <= 200 else v[:200] + "…") for v in values[:5])
    return shown + (f" (+{len(values) - 5} more)" if len(values) > 5 else "")


def compare(label: str, received: list[str], operator: str, expected: str | None) -> Verdict:
    """Apply ``operator``; the message says what was expected and what was found."""
    first = received[0] if received else None
    want = f"{label} {operator}" + (f" {expected!r}" if expected is not None else "")
    ok: bool
    if operator == "empty":
        ok = all(v == "" for v in received)
    elif operator == "notEmpty":
        ok = any(v != "" for v in received)
    elif expected is None:
        return Verdict(False, f"{want}: the assert gives no value to compare with")
    elif operator == "equals":
        ok = first == expected
    elif operator == "notEquals":
        ok = first != expected
    elif operator in ("in", "notIn"):
        options = [o.strip() for o in expected.split(",")]
        ok = (first in options) == (operator == "in")
    elif operator in ("greaterThan", "lessThan"):
        ok = first is not None and _order(first, expected) == (
            1 if operator == "greaterThan" else -1
        )
    elif operator in ("contains", "notContains"):
        ok = any(expected in v for v in received) == (operator == "contains")
    else:
        return Verdict(False, f"{want}: operator not applicable here")
    verb = "as expected" if ok else "expected"
    return Verdict(ok, f"{verb}: {want}; found {_show(received)}")
