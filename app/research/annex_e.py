"""PS3.15 Annex E Table E.1-1 as data: which action each attribute gets for a chosen profile.

The table is ``data/annex_e.json``, generated from packages by ``annex_e_build.py``. Rows that
name a pattern rather than a tag need code: curve groups (50xx,xxxx), overlay groups (60xx,xxxx)
and private attributes (odd groups).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from app.research.profile import ProfileOptionValues

TABLE_PATH = Path(__file__).with_name("data") / "annex_e.json"

PRIVATE = "PRIVATE"
CURVE = "50XXXXXX"
OVERLAY_DATA = "60XX3000"
OVERLAY_COMMENTS = "60XX4000"


@dataclass(frozen=True)
class Rule:
    tag: str
    name: str
    basic: str
    options: dict[str, str]

    def action(self, chosen: frozenset[ProfileOptionValues]) -> str:
        """The action for this profile: an option's K wins over its C, either over Basic."""
        found = [self.options[o.value] for o in chosen if o.value in self.options]
        if "K" in found:
            return "K"
        if "C" in found:
            return "C"
        return found[0] if found else self.basic


class AnnexETable:
    """Rules by tag, plus the per-IOD attribute types that resolve combined action codes."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.sources: dict[str, str] = data["sources"]
        self.rules: dict[str, Rule] = {
            r["tag"]: Rule(r["tag"], r["name"], r["basic"], r["options"])
            for r in data["attributes"]
        }
        self._types: dict[str, dict[str, dict[str, int]]] = data["iod_types"]

    def actions(self, chosen: frozenset[ProfileOptionValues]) -> dict[int, str]:
        """Every single-tag rule resolved for ``chosen``: tag → action code."""
        return {
            int(tag, 16): rule.action(chosen)
            for tag, rule in self.rules.items()
            if "X" not in tag[:4] and tag != PRIVATE
        }

    def pattern_action(self, tag: int, chosen: frozenset[ProfileOptionValues]) -> str | None:
        """Curve and overlay groups; every element of an overlay group follows Overlay Data.

        Removing Overlay Data (Type 1 in the Overlay Plane module) but keeping the rest of its
        group would break the module, so the whole 60xx group shares Overlay Data's action,
        except Overlay Comments, which has its own row.
        """
        group, element = tag >> 16, tag & 0xFFFF
        if group & 0xFF00 == 0x5000 and group <= 0x501E:
            return self.rules[CURVE].action(chosen)
        if group & 0xFF00 == 0x6000 and group <= 0x601E and not group & 1:
            key = OVERLAY_COMMENTS if element == 0x4000 else OVERLAY_DATA
            return self.rules[key].action(chosen)
        return None

    def private_action(self, chosen: frozenset[ProfileOptionValues]) -> str:
        return self.rules[PRIVATE].action(chosen)

    def iod_known(self, sop_class_uid: str) -> bool:
        return sop_class_uid in self._types

    def attribute_type(self, sop_class_uid: str, tag: int, nested: bool) -> int:
        """1, 2 or 3: the attribute's strongest type in the IOD (3 when not listed).

        For a SOP class the table does not know, 1 is returned: a combined code then keeps
        the attribute with a dummy or replaced value, which keeps any IOD conformant and
        leaks nothing (values are replaced either way).
        """
        iod = self._types.get(sop_class_uid)
        if iod is None:
            return 1
        return iod["nested" if nested else "top"].get(f"{tag:08X}", 3)


@cache
def load_table(path: Path = TABLE_PATH) -> AnnexETable:
    return AnnexETable(json.loads(path.read_text(encoding="utf-8")))


def resolve_combination(code: str, attr_type: int) -> str:
    """Pick one action from a combined code by the attribute's type (PS3.15 Table E.1-1 key).

    Z/D: D for Type 1, else Z. X/Z: Z for Type 1 or 2, else X. X/D: D for Type 1 or 2,
    else X. X/Z/D: D for Type 1, Z for Type 2, else X. X/Z/U*: U (keep the sequence and
    replace the UIDs it holds) for Type 1, Z for Type 2, else X.
    """
    if "/" not in code:
        return code
    options = code.replace("*", "").split("/")
    if attr_type == 1:
        for pick in ("D", "U", "Z"):
            if pick in options:
                return pick
    if attr_type == 2:
        for pick in ("Z", "D"):
            if pick in options:
                return pick
    return "X" if "X" in options else options[0]
