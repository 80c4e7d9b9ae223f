"""TestScript ``variable``s and ``${name}`` substitution.

A variable is evaluated each time it is used, against the state at that moment, so it can
read a response that arrives after the script starts (R4 TestScript.variable). Order: a value
given on the command line, then ``headerField``, ``expression`` or ``path`` on ``sourceId``
(the last exchange when absent), then ``defaultValue``. A name with no value is an error the
runner reports as a skip naming the variable and its ``hint``.
"""

from __future__ import annotations

import re
from typing import Any

from conformance.paths import ExpressionError, as_text, evaluate_fhirpath, evaluate_path
from conformance.state import State

_REF = re.compile(r"\$\{([^}]+)\}")

__all__ = ["UnresolvedVariable", "Variables"]


class UnresolvedVariable(LookupError):
    """A ``${name}`` that has no value (or no declaration)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"variable ${{{name}}} has no value: {reason}")
        self.name = name


class Variables:
    def __init__(
        self, declared: list[dict[str, Any]], overrides: dict[str, str], state: State
    ) -> None:
        self._declared = {str(v.get("name")): v for v in declared}
        self._overrides = dict(overrides)
        self._state = state

    @property
    def names(self) -> set[str]:
        return set(self._declared) | set(self._overrides)

    def value(self, name: str) -> str:
        if name in self._overrides:
            return self._overrides[name]
        var = self._declared.get(name)
        if var is None:
            raise UnresolvedVariable(name, "it is not declared in the TestScript")
        problem = "nothing found"
        try:
            found = self._evaluate(var)
        except ExpressionError as exc:
            found, problem = None, str(exc)
        if found is not None:
            return found
        if "defaultValue" in var:
            return str(var["defaultValue"])
        hint = f" (hint: {var['hint']})" if var.get("hint") else ""
        raise UnresolvedVariable(name, f"{problem}; no defaultValue; give --var {name}=…{hint}")

    def _evaluate(self, var: dict[str, Any]) -> str | None:
        source = var.get("sourceId")
        if var.get("headerField"):
            exchange = self._state.exchange(source)
            return exchange.response.header(str(var["headerField"])) if exchange else None
        content = self._state.content(source)
        if content is None or not (var.get("expression") or var.get("path")):
            return None
        if var.get("expression"):
            values = evaluate_fhirpath(self.substitute(str(var["expression"])), content.json)
        else:
            values = evaluate_path(self.substitute(str(var["path"])), content.json, content.xml)
        return as_text(values[0]) if values else None

    def substitute(self, text: str) -> str:
        """Replace every ``${name}`` in ``text`` (raises UnresolvedVariable)."""
        if "${" not in text:
            return text
        return _REF.sub(lambda m: self.value(m.group(1)), text)

    def referenced(self, text: str) -> list[str]:
        return _REF.findall(text)
