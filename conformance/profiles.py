"""``validateProfileId``: check a resource against a StructureDefinition from ``profiles/``.

Checked: the base resource (element names, types, cardinality) through the R4B model; then,
for every element of the profile's snapshot (or differential), its ``min``/``max`` within each
parent and its ``fixed[x]``/``pattern[x]`` value, including inside slices whose discriminator
is ``value``, ``pattern`` or ``exists``. Not checked (said in the message): invariants
(``constraint``), terminology bindings, ``type``/``profile`` discriminators, ``mustSupport``.
A core profile (``http://hl7.org/fhir/StructureDefinition/{Type}``) without a local file is
checked against the base model alone.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from conformance import fhirmodels
from conformance.operators import Verdict

logger = logging.getLogger(__name__)
CORE = "http://hl7.org/fhir/StructureDefinition/"

__all__ = ["CORE", "ProfileStore", "validate"]


class ProfileStore:
    """StructureDefinitions found under a folder, by canonical URL, ``url|version`` and id."""

    def __init__(self, directory: Path | None) -> None:
        self._by_key: dict[str, dict[str, Any]] = {}
        if directory is None or not directory.is_dir():
            return
        for path in sorted(directory.rglob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, OSError):
                logger.warning("skipping unreadable profile file %s", path)
                continue
            if isinstance(data, dict) and data.get("resourceType") == "StructureDefinition":
                for key in (data.get("url"), data.get("id"), data.get("name")):
                    if key:
                        self._by_key.setdefault(str(key), data)
                if data.get("url") and data.get("version"):
                    self._by_key[f"{data['url']}|{data['version']}"] = data

    def find(self, reference: str) -> dict[str, Any] | None:
        return self._by_key.get(reference) or self._by_key.get(reference.rsplit("/", 1)[-1])

    def __len__(self) -> int:
        return len({id(v) for v in self._by_key.values()})


def _children(node: Any, name: str) -> list[Any]:
    """Values of ``name`` in ``node`` (choice ``value[x]`` matches ``valueString`` etc.)."""
    if not isinstance(node, dict):
        return []
    if name.endswith("[x]"):
        stem = name[:-3]
        keys = [k for k in node if k.startswith(stem) and k[len(stem) : len(stem) + 1].isupper()]
    else:
        keys = [name] if name in node or f"_{name}" in node else []
    out: list[Any] = []
    for key in keys:
        value = node.get(key, node.get(f"_{key}"))
        out.extend(value if isinstance(value, list) else [value])
    return out


def _fixed(element: dict[str, Any]) -> tuple[str, Any] | None:
    for key, value in element.items():
        if key.startswith("fixed") or key.startswith("pattern"):
            return key, value
    return None


def _matches(kind: str, expected: Any, actual: Any) -> bool:
    if kind.startswith("fixed"):
        return bool(expected == actual)
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            _matches(kind, v, actual.get(k)) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and all(
            any(_matches(kind, e, a) for a in actual) for e in expected
        )
    return bool(expected == actual)


class _Checker:
    def __init__(self, sd: dict[str, Any]) -> None:
        section = sd.get("snapshot") or sd.get("differential") or {}
        self.elements: dict[str, dict[str, Any]] = {
            str(e.get("id") or e.get("path")): e for e in section.get("element", [])
        }
        self.problems: list[str] = []
        self.unchecked: set[str] = set()

    def select(self, resource: dict[str, Any], element_id: str) -> list[Any]:
        """Nodes an element id (``A.b:slice.c``) selects in the resource."""
        steps = element_id.split(".")
        nodes: list[Any] = [resource]
        base = steps[0]
        for step in steps[1:]:
            name, _, slice_name = step.partition(":")
            base = f"{base}.{name}"
            found = [c for n in nodes for c in _children(n, name)]
            if slice_name:
                found = [c for c in found if self.in_slice(c, base, slice_name)]
                base = f"{base}:{slice_name}"
            nodes = found
        return nodes

    def in_slice(self, item: Any, base: str, slice_name: str) -> bool:
        slicing = self.elements.get(base, {}).get("slicing", {})
        for disc in slicing.get("discriminator", []):
            kind, path = disc.get("type"), str(disc.get("path", "$this"))
            where = f"{base}:{slice_name}" + ("" if path == "$this" else f".{path}")
            element = self.elements.get(where, {})
            values = [item] if path == "$this" else self.select_from(item, path)
            if kind in ("value", "pattern"):
                fixed = _fixed(element)
                if fixed is None or not any(_matches(fixed[0], fixed[1], v) for v in values):
                    return False
            elif kind == "exists":
                if bool(values) != (element.get("min", 0) > 0 or element.get("max") != "0"):
                    return False
            else:
                self.unchecked.add(f"{base}:{slice_name} ({kind} discriminator)")
                return False
        return bool(slicing)

    def select_from(self, item: Any, path: str) -> list[Any]:
        nodes = [item]
        for name in path.split("."):
            nodes = [c for n in nodes for c in _children(n, name)]
        return nodes

    def check(self, resource: dict[str, Any]) -> None:
        for element_id, element in self.elements.items():
            if "." not in element_id:
                continue
            parent_id, _, last = element_id.rpartition(".")
            if ":" in last:  # the slice itself: count its members in each parent
                self._cardinality(resource, element_id, element, parent_id, slice_of=last)
            else:
                self._cardinality(resource, element_id, element, parent_id)
            fixed = _fixed(element)
            if fixed:
                for value in self.select(resource, element_id):
                    if not _matches(fixed[0], fixed[1], value):
                        self.problems.append(
                            f"{element_id}: {fixed[0]} {json.dumps(fixed[1])}, found "
                            f"{json.dumps(value)}"
                        )

    def _cardinality(
        self,
        resource: dict[str, Any],
        element_id: str,
        element: dict[str, Any],
        parent_id: str,
        slice_of: str | None = None,
    ) -> None:
        low = int(element.get("min", 0))
        high = element.get("max", "*")
        for parent in self.select(resource, parent_id):
            if slice_of:
                name, _, slice_name = slice_of.partition(":")
                base = f"{element_id.rpartition(':')[0]}"
                count = sum(
                    1 for c in _children(parent, name) if self.in_slice(c, base, slice_name)
                )
            else:
                count = len(_children(parent, element_id.rsplit(".", 1)[-1]))
            if count < low or (high not in ("*", None) and count > int(high)):
                self.problems.append(f"{element_id}: cardinality {low}..{high}, found {count}")


def validate(resource: Any, reference: str, store: ProfileStore) -> Verdict | None:
    """Verdict for the resource against the profile; None when the profile is unavailable."""
    sd = store.find(reference)
    if sd is None:
        if not reference.startswith(CORE):
            return None
        problems = fhirmodels.validation_problems(resource, reference[len(CORE) :])
        return _verdict(reference, problems, set(), "base specification")
    problems = fhirmodels.validation_problems(resource, str(sd.get("type")))
    if isinstance(resource, dict) and not problems:
        checker = _Checker(sd)
        checker.check(resource)
        return _verdict(reference, checker.problems, checker.unchecked, "profile")
    return _verdict(reference, problems, set(), "base specification")


def _verdict(reference: str, problems: list[str], unchecked: set[str], what: str) -> Verdict:
    note = f" (not checked: {', '.join(sorted(unchecked))})" if unchecked else ""
    if problems:
        shown = "; ".join(problems[:8]) + (
            f" (+{len(problems) - 8} more)" if len(problems) > 8 else ""
        )
        return Verdict(False, f"does not conform to {reference} ({what}): {shown}{note}")
    return Verdict(True, f"conforms to {reference} ({what}: cardinality, fixed values){note}")
