"""The conformance statement's transfer-syntax table says what the code's table says."""

from __future__ import annotations

import re
from pathlib import Path

from app.archive.syntaxes import SYNTAXES

DOC = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"


def test_conformance_table_matches_code() -> None:
    section = DOC.read_text().split("## 6. Transfer syntaxes")[1].split("\n## ")[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"1\.2\.840\.10008\.[\d.]+", cells[1]):
            rows[cells[1]] = cells[3].startswith("yes")
    assert set(rows) == set(SYNTAXES)
    for uid, syntax in SYNTAXES.items():
        assert rows[uid] == syntax.writable, uid
