"""A TestScript engine (Touchstone-style): runs FHIR R4 TestScripts over HTTP, writes TestReports.

It talks to a server over HTTP only and never imports ``app`` or ``smart`` (an import-linter
contract), so it can test any FHIR server, ours included.
"""

from __future__ import annotations

from pathlib import Path

from conformance.lint import lint
from conformance.loader import Script, ScriptError, discover, load_script
from conformance.report import exit_code, problems, summary_table, to_testreport, write_reports
from conformance.runner import RunOptions, ScriptResult, run_paths, run_script

SUITES = Path(__file__).parent / "suites"

__all__ = [
    "SUITES",
    "RunOptions",
    "Script",
    "ScriptError",
    "ScriptResult",
    "default_suites",
    "discover",
    "exit_code",
    "lint",
    "load_script",
    "problems",
    "run_paths",
    "run_script",
    "summary_table",
    "to_testreport",
    "write_reports",
]


def default_suites() -> list[Path]:
    """Our suites that run by default: every folder under ``suites/`` except ``pending/``
    (suites for endpoints that are not built yet)."""
    return sorted(p for p in SUITES.iterdir() if p.is_dir() and p.name != "pending")
