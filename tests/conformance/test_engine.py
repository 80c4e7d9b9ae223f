"""The engine against the tiny server: everything passes when the server is right, and the
exact failures are reported when it is deliberately wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import conformance
from conformance.runner import ActionResult, ScriptResult
from tests.conformance.tinyfhir import TinyFhir, serve

HERE = Path(__file__).parent
SCRIPTS = HERE / "scripts"
PROFILES = HERE / "profiles"


@pytest.fixture
def good() -> Iterator[tuple[str, TinyFhir]]:
    with serve(wrong=False) as pair:
        yield pair


@pytest.fixture
def wrong() -> Iterator[tuple[str, TinyFhir]]:
    with serve(wrong=True) as pair:
        yield pair


def run(base: str, name: str, **options: object) -> ScriptResult:
    opts = conformance.RunOptions(base=base, profiles_dir=PROFILES, **options)  # type: ignore[arg-type]
    [result] = conformance.run_paths([SCRIPTS / name], opts)
    return result


def by_label(result: ScriptResult) -> dict[str, ActionResult]:
    return {a.label: a for s in result.sections() for a in s.actions if a.label}


def non_passing(result: ScriptResult) -> dict[str, str]:
    return {
        f"{s.name} / {a.label}": a.result
        for s in result.sections()
        for a in s.actions
        if a.result != "pass"
    }


def test_feature_script_passes_on_a_correct_server(good: tuple[str, TinyFhir]) -> None:
    base, tiny = good
    result = run(base, "engine-features.json")
    assert non_passing(result) == {}
    assert result.outcome == "pass"
    asserts = [a for s in result.sections() for a in s.actions if a.kind == "assert"]
    assert len(asserts) == 65
    # autocreate before setup, autodelete after teardown, each exactly once
    assert tiny.requests[1] == ("POST", "/fhir/Patient")
    assert tiny.requests[-1][0] == "DELETE"
    report = conformance.to_testreport(result, base)
    assert report["result"] == "pass" and report["score"] == 100.0


def test_feature_script_reports_each_wrong_behaviour(wrong: tuple[str, TinyFhir]) -> None:
    base, _ = wrong
    result = run(base, "engine-features.json")
    failed = {k: v for k, v in non_passing(result).items() if v in ("fail", "warning")}
    assert failed == {
        "create / 201 Created": "fail",
        "profile / tiny-patient profile": "fail",
        "read / family as in the fixture (XPath variable)": "fail",
        "search / paging links": "fail",
        "raw HTTP / header with a variable arrived": "fail",
        "minimum / minimum content": "fail",
        "capabilities / FHIR JSON media type": "warning",
        "capabilities / FHIR 4.0.1": "fail",
        "delete / 204": "fail",
    }
    labels = by_label(result)
    assert "found '200'" in labels["201 Created"].message
    assert (
        "Patient.identifier:mrn: cardinality 1..1, found 0"
        in labels["tiny-patient profile"].message
    )
    assert "found 'Wrong'" in labels["family as in the fixture (XPath variable)"].message
    assert "lacks first, last, next" in labels["paging links"].message
    # a failed assert ends its test; later tests still run
    assert labels["Location is given"].result == "skip"
    assert labels["replaceMatches"].result == "pass"
    # the next-page URL comes from a missing link: skipped with the variable named
    assert "${searchNext}" in labels["GET the next page"].message
    assert result.outcome == "fail"
    report = conformance.to_testreport(result, base)
    assert report["result"] == "fail" and 0 < report["score"] < 100


def test_connectathon_xml_script_passes(good: tuple[str, TinyFhir]) -> None:
    base, tiny = good
    result = run(base, "connectathon-patient-read.xml")
    assert non_passing(result) == {}
    assert ("PUT", "/fhir/Patient/example") in tiny.requests
    assert tiny.requests[-1] == ("DELETE", "/fhir/Patient/example")
    assert sum(1 for a in result.tests[0].actions if a.kind == "assert") == 10


def test_connectathon_setup_failure_skips_every_test(wrong: tuple[str, TinyFhir]) -> None:
    base, tiny = wrong
    result = run(base, "connectathon-patient-read.xml")
    setup = [a.result for a in result.setup.actions]
    assert setup[:2] == ["pass", "fail"] and set(setup[2:]) == {"skip"}
    assert {a.result for a in result.tests[0].actions} == {"skip"}
    assert all("setup did not complete" in a.message for a in result.tests[0].actions)
    # teardown still runs
    assert tiny.requests[-1] == ("DELETE", "/fhir/Patient/example")
    assert result.outcome == "fail"


def test_what_cannot_run_is_skipped_never_passed(good: tuple[str, TinyFhir]) -> None:
    base, _ = good
    result = run(base, "engine-skips.json")
    labels = by_label(result)
    expected = {
        "unsupported operation type": "operation type 'graphql' is not supported",
        "undeclared variable": "is not declared",
        "variable with a hint": "hint: an MRN known to the server",
        "unknown profile": "not available",
        "undeclared profile": "not declared in TestScript.profile",
        "unknown source": "'no-such-fixture' is not available",
        "missing fixture file": "not loaded",
        "bad FHIRPath": "FHIRPath",
        "second server": "origin/destination",
    }
    for label, reason in expected.items():
        assert labels[label].result == "skip", label
        assert reason in labels[label].message, (label, labels[label].message)
    assert "pass" not in {a.result for t in result.tests for a in t.actions}
    assert result.outcome == "pending"
    assert conformance.to_testreport(result, base)["result"] == "pending"


def test_variables_from_the_command_line(good: tuple[str, TinyFhir]) -> None:
    base, _ = good
    result = run(base, "engine-skips.json", variables={"patientMrn": "X-1", "notDeclared": "y"})
    labels = by_label(result)
    assert labels["variable with a hint"].result == "pass"
    assert labels["undeclared variable"].result == "pass"


def test_unloadable_script_is_an_error(tmp_path: Path, good: tuple[str, TinyFhir]) -> None:
    base, _ = good
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"resourceType": "TestScript", "name": "x"}))  # no url/status
    [result] = conformance.run_paths([bad], conformance.RunOptions(base=base))
    assert result.error and "status" in result.error
    assert result.outcome == "fail"
    report = conformance.to_testreport(result, base)
    assert report["status"] == "stopped" and report["result"] == "fail"
