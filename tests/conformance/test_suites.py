"""Our own suites: consistent (lint, pending ones too), and run against the real server.

The run writes one TestReport per script to ``conformance/reports/<database>/`` (gitignored;
CI keeps the folder as an artifact) and fails on any failed assert, error or skip.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import conformance
from tests.conformance import dicomweb_fixtures
from tests.conftest import PG_URL, LiveServer

#: Surface behaviour, not access control (that is test_isolation.py and test_smart_*.py,
#: with authorization on).
SERVER_SETTINGS = {"auth": "off"}

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "conformance" / "reports" / ("postgresql" if PG_URL else "sqlite")
ALL_SCRIPTS = conformance.discover([conformance.SUITES])


@pytest.mark.parametrize("path", ALL_SCRIPTS, ids=lambda p: str(p.relative_to(conformance.SUITES)))
def test_suite_is_consistent(path: Path) -> None:
    assert conformance.lint(conformance.load_script(path)) == []


def test_nothing_is_pending() -> None:
    """Every suite has its endpoints now (SMART moved out of ``pending/`` with the server)."""
    assert [p for p in ALL_SCRIPTS if "pending" in p.parts] == []


def test_dicomweb_fixtures_are_current() -> None:
    for name, resource in dicomweb_fixtures.fixtures().items():
        committed = json.loads((dicomweb_fixtures.FOLDER / name).read_text(encoding="utf-8"))
        assert committed == resource, (
            f"regenerate {name}: python -m tests.conformance.dicomweb_fixtures"
        )


def test_suites_pass_against_image_share(live_server: LiveServer) -> None:
    suites = conformance.default_suites()
    assert [p.name for p in suites] == ["dicomweb", "fhir", "smart"]
    options = conformance.RunOptions(base=live_server.fhir, timeout=30)
    results = conformance.run_paths(suites, options)
    conformance.write_reports(results, live_server.fhir, REPORTS)
    assert len(results) == len(conformance.discover(suites)) >= 4
    bad = [line for line in conformance.problems(results) if " WARNING " not in line]
    assert bad == [], "\n".join(bad)
    asserts = sum(1 for r in results for s in r.sections() for a in s.actions if a.kind == "assert")
    assert asserts >= 75
    for result in results:
        report = json.loads((REPORTS / f"{result.path.stem}.testreport.json").read_text())
        assert report["result"] == "pass" and report["score"] == 100.0
