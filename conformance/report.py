"""TestReport (R4) per script, the summary table, and the exit code for CI."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from conformance import fhirmodels
from conformance.runner import ActionResult, ScriptResult, TestResult

COLUMNS = ("pass", "fail", "warning", "skip", "error")
ENGINE_URI = "urn:imageshare:conformance-engine"

__all__ = ["exit_code", "problems", "summary_table", "to_testreport", "write_reports"]


def _action(action: ActionResult) -> dict[str, Any]:
    body: dict[str, Any] = {"result": action.result, "message": action.message or action.result}
    if action.detail:
        body["detail"] = action.detail
    return {action.kind: body}


def _script_reference(result: ScriptResult) -> dict[str, Any]:
    script = result.script or {}
    ref: dict[str, Any] = {"display": result.name}
    if script.get("url"):
        ref["reference"] = str(script["url"])
    elif script.get("id"):
        ref["reference"] = f"TestScript/{script['id']}"
    return ref


def _score(result: ScriptResult) -> float:
    asserts = [a.result for s in result.sections() for a in s.actions if a.kind == "assert"]
    if not asserts:
        return 0.0
    return round(100.0 * asserts.count("pass") / len(asserts), 2)


def _report_id(result: ScriptResult) -> str:
    return re.sub(r"[^A-Za-z0-9\-.]", "-", result.path.stem)[:64] or "report"


def to_testreport(result: ScriptResult, base: str) -> dict[str, Any]:
    """The R4 TestReport for one script run (validated with the R4B model)."""
    report: dict[str, Any] = {
        "resourceType": "TestReport",
        "id": _report_id(result),
        "name": result.name,
        "status": "completed" if result.error is None else "stopped",
        "testScript": _script_reference(result),
        "result": result.outcome,
        "score": _score(result),
        "tester": "Image Share conformance engine",
        "issued": result.issued,
        "participant": [
            {"type": "test-engine", "uri": ENGINE_URI, "display": "imageshare conformance"},
            {"type": "server", "uri": base},
        ],
    }
    if result.error:
        report["extension"] = [
            {"url": f"{ENGINE_URI}:load-error", "valueString": result.error[:2000]}
        ]
    if result.setup.actions:
        report["setup"] = {"action": [_action(a) for a in result.setup.actions]}
    tests = []
    for test in result.tests:
        entry: dict[str, Any] = {"name": test.name}
        if test.description:
            entry["description"] = test.description
        entry["action"] = [_action(a) for a in test.actions] or [
            {"assert": {"result": "skip", "message": "the test has no actions"}}
        ]
        tests.append(entry)
    if tests:
        report["test"] = tests
    if result.teardown.actions:
        report["teardown"] = {
            "action": [{"operation": _action(a)["operation"]} for a in result.teardown.actions]
        }
    problems = fhirmodels.testreport_problems(report)
    if problems:
        raise ValueError("engine wrote an invalid TestReport: " + "; ".join(problems[:5]))
    return report


def write_reports(results: list[ScriptResult], base: str, out_dir: Path) -> list[Path]:
    """One ``<script>.testreport.json`` per script in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for result in results:
        path = out_dir / f"{result.path.stem}.testreport.json"
        report = to_testreport(result, base)
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _counts(section: TestResult) -> Counter[str]:
    """Assert results, plus operations that did not run (a passing operation checks nothing)."""
    return Counter(a.result for a in section.actions if a.kind == "assert" or a.result != "pass")


def summary_table(results: list[ScriptResult]) -> str:
    """A plain-text table: one row per setup/test/teardown, per script, then totals."""
    rows: list[tuple[str, str, Counter[str]]] = []
    for result in results:
        if result.error:
            rows.append((result.name, "(not loaded)", Counter(error=1)))
            continue
        for section in result.sections():
            if section.actions:
                rows.append((result.name, section.name, _counts(section)))
    total: Counter[str] = Counter()
    for _, _, counts in rows:
        total.update(counts)
    width_s = max([len("script"), *(len(r[0]) for r in rows)])
    width_t = max([len("test"), *(len(r[1]) for r in rows)])
    head = f"{'script':<{width_s}}  {'test':<{width_t}}  " + "  ".join(f"{c:>7}" for c in COLUMNS)
    lines = [head, "-" * len(head)]
    for script, test, counts in rows:
        cells = "  ".join(f"{counts.get(c, 0):>7}" for c in COLUMNS)
        lines.append(f"{script:<{width_s}}  {test:<{width_t}}  {cells}")
    lines.append("-" * len(head))
    cells = "  ".join(f"{total.get(c, 0):>7}" for c in COLUMNS)
    lines.append(f"{'total':<{width_s}}  {'':<{width_t}}  {cells}")
    return "\n".join(lines)


def exit_code(results: list[ScriptResult]) -> int:
    """0 when nothing failed or errored (skips and warnings allowed), else 1."""
    return 1 if any(r.outcome == "fail" for r in results) else 0


def problems(results: list[ScriptResult]) -> list[str]:
    """Every non-passing action with its script, section and message (for logs and CI)."""
    out = []
    for result in results:
        if result.error:
            out.append(f"{result.name}: ERROR {result.error}")
        for section in result.sections():
            for action in section.actions:
                if action.result in ("fail", "error", "skip", "warning"):
                    label = f" [{action.label}]" if action.label else ""
                    out.append(
                        f"{result.name} / {section.name}{label}: {action.result.upper()} "
                        f"{action.message}"
                    )
    return out
