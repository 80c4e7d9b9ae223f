"""The per-run report: each instance written, quarantined or failed with its reason, and counts.

It stays with the site, not with the research copy: it names source paths. It never holds an
original UID, name or ID (only the new SOP Instance UID of what was written).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class InstanceReport:
    source: str
    status: str  # written | quarantined | failed
    reason: str = ""
    output: str = ""
    actions: dict[str, int] = field(default_factory=dict)


@dataclass
class RunReport:
    profile: list[str]
    table: dict[str, str]
    instances: list[InstanceReport] = field(default_factory=list)

    def add(self, item: InstanceReport) -> None:
        self.instances.append(item)

    def count(self, status: str) -> int:
        return sum(1 for i in self.instances if i.status == status)

    @property
    def actions(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for item in self.instances:
            total.update(item.actions)
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "table": self.table,
            "totals": {s: self.count(s) for s in ("written", "quarantined", "failed")},
            "actions": dict(sorted(self.actions.items())),
            "instances": [asdict(i) for i in self.instances],
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=1) + "\n", encoding="utf-8")
