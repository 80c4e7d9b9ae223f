"""Run TestScripts against a server: fixtures, setup, tests, teardown (R4 TestScript).

Execution follows the specification and Touchstone: ``autocreate`` fixtures are created before
``setup``; a failing setup assert (or an operation that cannot run) skips the rest of setup
and every test; a failing assert ends its test (the rest of its actions are skipped); teardown
and ``autodelete`` always run. Skips carry the reason; nothing unrun counts as passed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance.asserts import Context, Outcome, evaluate_assert
from conformance.exchange import HttpClient, TransportError
from conformance.loader import Script, ScriptError, discover, load_script
from conformance.operations import Skip, Target, build_request, record
from conformance.profiles import ProfileStore
from conformance.state import State
from conformance.variables import UnresolvedVariable, Variables

logger = logging.getLogger(__name__)

__all__ = ["ActionResult", "RunOptions", "ScriptResult", "TestResult", "run_paths", "run_script"]


@dataclass
class RunOptions:
    base: str
    token: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    profiles_dir: Path | None = None
    timeout: float = 60.0


@dataclass
class ActionResult:
    kind: str  # "operation" | "assert"
    result: str  # pass | fail | warning | skip | error
    message: str
    label: str = ""
    detail: str | None = None


@dataclass
class TestResult:
    name: str
    description: str = ""
    actions: list[ActionResult] = field(default_factory=list)


@dataclass
class ScriptResult:
    path: Path
    name: str
    script: dict[str, Any] | None = None
    setup: TestResult = field(default_factory=lambda: TestResult("setup"))
    tests: list[TestResult] = field(default_factory=list)
    teardown: TestResult = field(default_factory=lambda: TestResult("teardown"))
    error: str | None = None
    issued: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def sections(self) -> list[TestResult]:
        return [self.setup, *self.tests, self.teardown]

    def results(self) -> list[str]:
        return [a.result for s in self.sections() for a in s.actions]

    @property
    def outcome(self) -> str:
        """TestReport.result: fail on any fail/error, pending if anything was skipped."""
        results = self.results()
        if self.error or "fail" in results or "error" in results:
            return "fail"
        return "pending" if "skip" in results else "pass"


def _label(action: dict[str, Any]) -> str:
    return str(action.get("label") or action.get("description") or "")


class _Run:
    def __init__(self, script: Script, options: RunOptions, client: HttpClient) -> None:
        self.script = script
        self.state = State(fixtures=dict(script.fixtures))
        self.variables = Variables(script.data.get("variable") or [], options.variables, self.state)
        profiles = {
            str(p.get("id")): str(p.get("reference")) for p in script.data.get("profile") or []
        }
        self.ctx = Context(self.state, self.variables, profiles, ProfileStore(options.profiles_dir))
        self.target = Target(options.base, options.token)
        self.client = client

    def operation(self, op: dict[str, Any]) -> ActionResult:
        label = _label(op)
        try:
            for key in ("sourceId", "targetId"):
                if op.get(key) in self.script.fixture_problems:
                    raise Skip(self.script.fixture_problems[str(op[key])])
            if op.get("destination") not in (None, 1) or op.get("origin") is not None:
                raise Skip(
                    "operations with origin/destination other than one server are not supported"
                )
            request = build_request(op, self.state, self.variables, self.target)
        except (Skip, UnresolvedVariable, ValueError) as exc:
            return ActionResult("operation", "skip", str(exc), label)
        started = time.perf_counter()
        try:
            exchange = self.client.send(request)
        except TransportError as exc:
            return ActionResult("operation", "error", str(exc), label, request.url)
        record(op, exchange, self.state)
        took = (time.perf_counter() - started) * 1000
        message = f"{request.method} {request.url} → {exchange.response.status} ({took:.0f} ms)"
        return ActionResult("operation", "pass", message, label, request.url)

    def check(self, a: dict[str, Any]) -> ActionResult:
        outcome: Outcome = evaluate_assert(a, self.ctx)
        return ActionResult("assert", outcome.result, outcome.message, _label(a))

    def actions(self, actions: list[dict[str, Any]], into: TestResult, stop_reason: str) -> bool:
        """Run actions in order; True if all ran without a failure that stops the section."""
        for index, action in enumerate(actions):
            if "operation" in action:
                result = self.operation(action["operation"])
            elif "assert" in action:
                result = self.check(action["assert"])
            else:
                result = ActionResult("operation", "skip", "empty action")
            into.actions.append(result)
            if result.result in ("fail", "error") or (
                result.kind == "operation" and result.result == "skip"
            ):
                skip_rest(actions[index + 1 :], into, stop_reason)
                return False
        return True

    def fixtures(self, flag: str, code: str) -> list[dict[str, Any]]:
        ops = []
        for fixture in self.script.data.get("fixture") or []:
            if fixture.get(flag) and fixture.get("id"):
                fid = str(fixture["id"])
                resource = self.state.resource(fid) or {}
                op: dict[str, Any] = {
                    "type": {"code": code},
                    "resource": resource.get("resourceType"),
                }
                op["sourceId" if code == "create" else "targetId"] = fid
                op["description"] = f"{flag} fixture {fid}"
                ops.append(op)
        return ops


def skip_rest(actions: list[dict[str, Any]], into: TestResult, reason: str) -> None:
    for action in actions:
        kind = "operation" if "operation" in action else "assert"
        into.actions.append(ActionResult(kind, "skip", reason, _label(action.get(kind) or {})))


def run_script(script: Script, options: RunOptions, client: HttpClient) -> ScriptResult:
    """Execute one loaded TestScript; the result holds every action's outcome."""
    data = script.data
    result = ScriptResult(script.path, script.name, data)
    run = _Run(script, options, client)
    ok = True
    for op in run.fixtures("autocreate", "create"):
        action = run.operation(op)
        status = run.state.last.response.status if run.state.last else 0
        if action.result == "pass" and not 200 <= status < 300:
            action = ActionResult(
                "operation", "error", f"autocreate failed: {action.message}", action.label
            )
        result.setup.actions.append(action)
        ok = ok and action.result == "pass"
    setup = (data.get("setup") or {}).get("action") or []
    ok = ok and run.actions(setup, result.setup, "skipped: an earlier setup action did not pass")
    for test in data.get("test") or []:
        section = TestResult(
            str(test.get("name") or test.get("id") or "test"), str(test.get("description") or "")
        )
        result.tests.append(section)
        if not ok:
            skip_rest(test.get("action") or [], section, "skipped: setup did not complete")
            continue
        run.actions(
            test.get("action") or [], section, "skipped: an earlier action in this test failed"
        )
    for action in (data.get("teardown") or {}).get("action") or []:
        result.teardown.actions.append(run.operation(action.get("operation") or {}))
    for op in run.fixtures("autodelete", "delete"):
        result.teardown.actions.append(run.operation(op))
    return result


def run_paths(paths: list[Path], options: RunOptions) -> list[ScriptResult]:
    """Discover, load and run every TestScript under the paths, one after another."""
    client = HttpClient(timeout=options.timeout)
    results: list[ScriptResult] = []
    try:
        for path in discover(paths):
            try:
                script = load_script(path)
            except ScriptError as exc:
                results.append(ScriptResult(path, path.stem, error=str(exc)))
                continue
            logger.info("running %s", path)
            results.append(run_script(script, options, client))
    finally:
        client.close()
    return results
