"""QIDO matching keys as SQL conditions (PS3.4 C.2.2.2, PS3.18 §8.3.4).

Single value, wildcard (``*`` and ``?``), UID list, date/time range and fuzzy person-name
matching, each on an indexed column. Person names match case-insensitively; with fuzzy
matching also accent-insensitively on any name component's prefix.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from app.archive.header import fuzzy_pn, is_valid_uid, normalize_pn
from app.archive.models import Instance, Series, Study
from app.errors import InvalidInput

Condition = ColumnElement[bool]


@dataclass(frozen=True)
class Key:
    """A matching key: the attribute's level, column and how its values match."""

    level: str
    kind: str  # uid | string | cs | pn | date | time | int | modalities
    column: InstrumentedAttribute[Any]
    fuzzy_column: InstrumentedAttribute[Any] | None = None


KEYS: dict[str, Key] = {
    "StudyInstanceUID": Key("study", "uid", Study.StudyInstanceUID),
    "PatientID": Key("study", "string", Study.PatientID),
    "IssuerOfPatientID": Key("study", "string", Study.IssuerOfPatientID),
    "PatientName": Key("study", "pn", Study.patient_name_norm, Study.patient_name_fuzzy),
    "PatientBirthDate": Key("study", "date", Study.PatientBirthDate),
    "PatientSex": Key("study", "cs", Study.PatientSex),
    "StudyDate": Key("study", "date", Study.StudyDate),
    "StudyTime": Key("study", "time", Study.StudyTime),
    "AccessionNumber": Key("study", "string", Study.AccessionNumber),
    "StudyID": Key("study", "string", Study.StudyID),
    "StudyDescription": Key("study", "string", Study.StudyDescription),
    "ReferringPhysicianName": Key(
        "study", "pn", Study.referring_physician_norm, Study.referring_physician_fuzzy
    ),
    "ModalitiesInStudy": Key("study", "modalities", Series.Modality),
    "SeriesInstanceUID": Key("series", "uid", Series.SeriesInstanceUID),
    "Modality": Key("series", "cs", Series.Modality),
    "SeriesNumber": Key("series", "int", Series.SeriesNumber),
    "SeriesDescription": Key("series", "string", Series.SeriesDescription),
    "BodyPartExamined": Key("series", "cs", Series.BodyPartExamined),
    "SeriesDate": Key("series", "date", Series.SeriesDate),
    "SeriesTime": Key("series", "time", Series.SeriesTime),
    "PerformedProcedureStepStartDate": Key(
        "series", "date", Series.PerformedProcedureStepStartDate
    ),
    "PerformedProcedureStepStartTime": Key(
        "series", "time", Series.PerformedProcedureStepStartTime
    ),
    "SOPInstanceUID": Key("instance", "uid", Instance.SOPInstanceUID),
    "SOPClassUID": Key("instance", "uid", Instance.SOPClassUID),
    "InstanceNumber": Key("instance", "int", Instance.InstanceNumber),
    "Rows": Key("instance", "int", Instance.Rows),
    "Columns": Key("instance", "int", Instance.Columns),
    "BitsAllocated": Key("instance", "int", Instance.BitsAllocated),
    "NumberOfFrames": Key("instance", "int", Instance.NumberOfFrames),
}

_DATE = re.compile(r"^\d{8}$")
_TIME = re.compile(r"^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$")


def condition(keyword: str, value: str, fuzzy: bool) -> Condition | None:
    """The SQL condition for ``keyword=value``; ``None`` for universal matching (empty value).

    Raises InvalidInput naming the key when the value is malformed for its kind.
    """
    key = KEYS[keyword]
    if value == "":
        return None
    builder = _BUILDERS[key.kind]
    return builder(keyword, key, value, fuzzy)


def _split_list(value: str) -> list[str]:
    return [v for v in re.split(r"[,\\]", value) if v != ""]


def _like(column: InstrumentedAttribute[Any], pattern: str) -> Condition:
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(escaped.replace("*", "%").replace("?", "_"), escape="\\")


def _text_match(column: InstrumentedAttribute[Any], value: str) -> Condition:
    if "*" in value or "?" in value:
        return _like(column, value)
    return column == value


def _uid(keyword: str, key: Key, value: str, _fuzzy: bool) -> Condition:
    uids = _split_list(value)
    for uid in uids:
        if not is_valid_uid(uid):
            raise InvalidInput(f"{keyword}: {uid!r} is not a valid UID", keyword)
    return key.column.in_(uids)


def _string(_keyword: str, key: Key, value: str, _fuzzy: bool) -> Condition:
    return _text_match(key.column, value)


def _cs(_keyword: str, key: Key, value: str, _fuzzy: bool) -> Condition:
    values = _split_list(value)
    return or_(*(_text_match(key.column, v) for v in values))


def _pn(_keyword: str, key: Key, value: str, fuzzy: bool) -> Condition:
    if not fuzzy:
        return _text_match(key.column, normalize_pn(value))
    tokens = fuzzy_pn(value).split()
    assert key.fuzzy_column is not None
    return and_(*(_like(key.fuzzy_column, f"* {t.rstrip('*')}*") for t in tokens))


def _modalities(keyword: str, key: Key, value: str, fuzzy: bool) -> Condition:
    inner = _cs(keyword, key, value, fuzzy)
    return exists(select(Series.pk).where(Series.study_pk == Study.pk, inner))


def _range(
    keyword: str,
    value: str,
    valid: Callable[[str], bool],
    what: str,
) -> tuple[str | None, str | None]:
    if "-" not in value:
        if not valid(value):
            raise InvalidInput(f"{keyword}: {value!r} is not a valid {what}", keyword)
        return value, value
    low, _, high = value.partition("-")
    if (not low and not high) or (low and not valid(low)) or (high and not valid(high)):
        raise InvalidInput(f"{keyword}: {value!r} is not a valid {what} range", keyword)
    if low and high and low > high:
        raise InvalidInput(f"{keyword}: range {value!r} ends before it starts", keyword)
    return low or None, high or None


def _valid_date(text: str) -> bool:
    if not _DATE.match(text):
        return False
    try:
        datetime.strptime(text, "%Y%m%d")
    except ValueError:
        return False
    return True


def _date(keyword: str, key: Key, value: str, _fuzzy: bool) -> Condition:
    low, high = _range(keyword, value, _valid_date, "date (YYYYMMDD)")
    if low == high:
        return key.column == low
    return _bounded(key.column, low, high, pad_high="")


def _time(keyword: str, key: Key, value: str, _fuzzy: bool) -> Condition:
    low, high = _range(keyword, value, lambda t: bool(_TIME.match(t)), "time (HHMMSS.FFFFFF)")
    if low == high and low is not None:
        return or_(key.column == low, key.column.like(f"{low}%"))
    # A high bound like 1230 includes 123059.999999: compare against its padded form.
    return _bounded(key.column, low, high, pad_high="~")


def _bounded(
    column: InstrumentedAttribute[Any], low: str | None, high: str | None, pad_high: str
) -> Condition:
    parts = [column != ""]
    if low is not None:
        parts.append(column >= low)
    if high is not None:
        parts.append(column <= high + pad_high)
    return and_(*parts)


def _int(keyword: str, key: Key, value: str, _fuzzy: bool) -> Condition:
    try:
        numbers = [int(v) for v in _split_list(value)]
    except ValueError as exc:
        raise InvalidInput(f"{keyword}: {value!r} is not an integer", keyword) from exc
    return key.column.in_(numbers)


_BUILDERS: dict[str, Callable[[str, Key, str, bool], Condition]] = {
    "uid": _uid,
    "string": _string,
    "cs": _cs,
    "pn": _pn,
    "date": _date,
    "time": _time,
    "int": _int,
    "modalities": _modalities,
}
