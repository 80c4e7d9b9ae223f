"""``imageshare research deidentify``: the real command, in-process, on files, folders and zips."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app.cli import main
from tests.unit import deidentify_phi as phi
from tests.unit.test_deidentify import leaked, write_inputs


def _inputs(tmp: Path) -> tuple[Path, Path]:
    paths = write_inputs(tmp / "folder")
    archive = tmp / "more.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(paths.pop("sr"), "sr.dcm")
    (tmp / "folder" / "sr.dcm").unlink()
    return tmp / "folder", archive


def test_command_writes_copies_report_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, archive = _inputs(tmp_path)
    out, key, report = tmp_path / "out", tmp_path / "project.key", tmp_path / "report.json"
    args = ["research", "deidentify", "--in", str(folder), str(archive), "--out", str(out)]
    args += ["--project-key", str(key), "--report", str(report), "--quiet"]
    args += ["--option", "retain-patient-characteristics", "clean-descriptors"]
    assert main(args) == 0
    printed = capsys.readouterr()
    assert "written: 3  quarantined: 2  failed: 0" in printed.out
    assert "created a new project key" in printed.err
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    body = json.loads(report.read_text())
    assert body["totals"] == {"written": 3, "quarantined": 2, "failed": 0}
    assert body["profile"] == [
        "Basic Application Confidentiality Profile",
        "Clean Descriptors Option",
        "Retain Patient Characteristics Option",
    ]
    assert body["actions"]["X"] > 0 and body["actions"]["U"] > 0
    assert {i["status"] for i in body["instances"]} == {"written", "quarantined"}
    assert any(i["source"].endswith("more.zip!sr.dcm") for i in body["instances"])
    assert leaked(out, [*phi.ALL_UIDS, "Holmes", "MRN7734519", "20240115"]) == []
    first = sorted(p.name for p in out.rglob("*.dcm"))
    assert main(args[:-3]) == 0  # same key file: same pseudonyms, same file names
    assert sorted(p.name for p in out.rglob("*.dcm")) == first


def test_default_report_sits_beside_the_output(tmp_path: Path) -> None:
    folder, _ = _inputs(tmp_path)
    out = tmp_path / "copies"
    assert main(["research", "deidentify", "--in", str(folder), "--out", str(out), "--quiet"]) == 0
    assert (tmp_path / "copies-report.json").exists()
    assert not list(out.rglob("*.json"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--option", "retain-everything"], "unknown option"),
        (["--option", "retain-safe-private"], "Retain Safe Private needs"),
        (["--in", "/nonexistent/x"], "no such file or folder"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    folder, _ = _inputs(tmp_path)
    args = ["research", "deidentify", "--in", str(folder), "--out", str(tmp_path / "o"), "--quiet"]
    assert main(args + extra) == 2
    assert message in capsys.readouterr().err


def test_safe_private_list_file(tmp_path: Path) -> None:
    folder, _ = _inputs(tmp_path)
    safe = tmp_path / "safe.json"
    safe.write_text(json.dumps([{"creator": "SAFE VENDOR", "group": "0011", "element": "05"}]))
    out = tmp_path / "o"
    args = ["research", "deidentify", "--in", str(folder), "--out", str(out), "--quiet"]
    args += ["--option", "retain-safe-private", "--safe-private", str(safe)]
    assert main(args) == 0
    assert leaked(out, [phi.NESTED["private_safe"]]) == [phi.NESTED["private_safe"]]
    assert leaked(out, [phi.NESTED["private_phi"]]) == []


def test_console_script_shows_progress(tmp_path: Path) -> None:
    folder, _ = _inputs(tmp_path)
    script = Path(sys.executable).with_name("imageshare")
    result = subprocess.run(
        [str(script), "research", "deidentify", "--in", str(folder), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "de-identifying: 100%" in result.stderr
    assert "written: 2  quarantined: 2  failed: 0" in result.stdout
