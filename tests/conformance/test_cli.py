"""``imageshare conformance run``: TestReports on disk, the summary table, the exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from conformance import fhirmodels
from tests.conformance.tinyfhir import serve

SCRIPTS = Path(__file__).parent / "scripts"
PROFILES = Path(__file__).parent / "profiles"


def _run(base: str, out: Path, *extra: str) -> int:
    return main(
        [
            "conformance",
            "run",
            "--base",
            base,
            "--out",
            str(out),
            "--profiles",
            str(PROFILES),
            "--suite",
            str(SCRIPTS / "engine-features.json"),
            str(SCRIPTS / "connectathon-patient-read.xml"),
            *extra,
        ]
    )


def test_cli_passes_and_writes_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve() as (base, _):
        assert _run(base, tmp_path) == 0
    out = capsys.readouterr().out
    assert "EngineFeatures" in out and "ConnectathonPatientRead" in out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split()[1:] == ["79", "0", "0", "0", "0"]
    reports = sorted(tmp_path.glob("*.testreport.json"))
    assert [p.name for p in reports] == [
        "connectathon-patient-read.testreport.json",
        "engine-features.testreport.json",
    ]
    for path in reports:
        report = json.loads(path.read_text())
        assert fhirmodels.testreport_problems(report) == []
        assert report["result"] == "pass"


def test_cli_fails_on_a_wrong_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(wrong=True) as (base, _):
        assert _run(base, tmp_path) == 1
    out = capsys.readouterr().out
    assert "FAIL expected: response code equals '201'; found '200'" in out


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "conformance",
                "run",
                "--base",
                "http://127.0.0.1:9",
                "--var",
                "novalue",
                "--suite",
                str(SCRIPTS),
            ]
        )
        == 2
    )
    assert (
        main(
            [
                "conformance",
                "run",
                "--base",
                "http://127.0.0.1:9",
                "--suite",
                str(tmp_path / "none"),
            ]
        )
        == 2
    )
    assert (
        main(["conformance", "run", "--base", "http://127.0.0.1:9", "--suite", str(tmp_path)]) == 2
    )
    err = capsys.readouterr().err
    assert "NAME=VALUE" in err and "no such file" in err and "no TestScript found" in err


def test_unreachable_server_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "conformance",
            "run",
            "--base",
            "http://127.0.0.1:9/fhir",
            "--timeout",
            "2",
            "--out",
            str(tmp_path),
            "--suite",
            str(SCRIPTS / "connectathon-patient-read.xml"),
        ]
    )
    assert code == 1
    report = json.loads((tmp_path / "connectathon-patient-read.testreport.json").read_text())
    assert report["result"] == "fail"
    assert report["setup"]["action"][0]["operation"]["result"] == "error"
