"""QIDO value syntax: ranges, lists, wildcards and the 400s for malformed values."""

from __future__ import annotations

import pytest

from app.archive.header import fuzzy_pn, is_valid_uid, normalize_pn
from app.archive.matching import condition
from app.errors import InvalidInput


@pytest.mark.parametrize("uid", ["1.2.3", "0.1", "2.25.1234567890", "1." + "2" * 62])
def test_valid_uids(uid: str) -> None:
    assert is_valid_uid(uid)


@pytest.mark.parametrize("uid", ["", "1.02.3", "1..2", "1.2.", "a.b", "1." + "2" * 63])
def test_invalid_uids(uid: str) -> None:
    assert not is_valid_uid(uid)


def test_person_name_normalisation() -> None:
    assert normalize_pn("Müller^Zoë") == "MÜLLER^ZOË"
    assert fuzzy_pn("Müller^Zoë") == " MULLER ZOE "


def test_empty_value_is_universal_match() -> None:
    assert condition("PatientName", "", False) is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("StudyDate", "2024"),
        ("StudyDate", "20240230"),
        ("StudyDate", "-"),
        ("StudyDate", "20240302-20240301"),
        ("StudyTime", "25x"),
        ("StudyInstanceUID", "1.2,x"),
        ("SeriesNumber", "1,two"),
    ],
)
def test_malformed_values_raise_naming_the_key(key: str, value: str) -> None:
    with pytest.raises(InvalidInput) as err:
        condition(key, value, False)
    assert err.value.code == key


def test_wildcards_become_escaped_like() -> None:
    sql = str(
        condition("AccessionNumber", "A_1%*?", False).compile(
            compile_kwargs={"literal_binds": True}
        )
    )
    assert "LIKE 'A\\_1\\%%_'" in sql
