"""C-FIND over the index (PS3.4 C.4.1, C.6.1 Patient Root and C.6.2 Study Root).

Matching (PS3.4 C.2.2.2) is QIDO's (``app.archive.matching``): single value, wildcard, UID
list, date/time range on the indexed columns; empty keys are return keys. Response identifiers
are built from the cached DICOM JSON of the matching rows, so C-FIND answers what QIDO answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydicom.dataset import Dataset
from sqlalchemy import Select, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.archive.matching import KEYS, condition
from app.archive.models import Instance, Series, Study
from app.errors import InvalidInput

LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")
#: The most matches one C-FIND answers; a broader query is cut (and logged by the caller).
MAX_MATCHES = 1000

_DEPTH = {"study": 1, "series": 2, "instance": 3}
_LEVEL_OF_TABLE = {Study: 1, Series: 2, Instance: 3}
#: Return keys kept as index columns rather than in the cached JSON.
_COUNTS = {
    "ModalitiesInStudy": Study.ModalitiesInStudy,
    "NumberOfStudyRelatedSeries": Study.NumberOfStudyRelatedSeries,
    "NumberOfStudyRelatedInstances": Study.NumberOfStudyRelatedInstances,
    "NumberOfSeriesRelatedInstances": Series.NumberOfSeriesRelatedInstances,
}


def _value(ds: Dataset, keyword: str) -> str:
    elem = ds.get(keyword)
    if elem is None or elem == "":
        return ""
    if isinstance(elem, list | tuple) or type(elem).__name__ == "MultiValue":
        return "\\".join(str(v) for v in elem)
    return str(elem)


def build_query(identifier: Dataset) -> tuple[str, Select[Any]]:
    """The level and the SQL for an identifier; ``InvalidInput`` for a bad level or value."""
    level = str(identifier.get("QueryRetrieveLevel", "")).upper()
    if level not in LEVELS:
        raise InvalidInput(f"unsupported Query/Retrieve Level {level!r}")
    depth = max(1, LEVELS.index(level))
    columns: list[Any] = [Study.study_json, Study.pk]
    if depth >= 2:
        columns.append(Series.series_json)
    if depth >= 3:
        columns.append(Instance.metadata_json)
    query = select(*columns, *_counts(depth).values())
    if depth >= 2:
        query = query.join(Series, Series.study_pk == Study.pk)
    if depth >= 3:
        query = query.join(Instance, Instance.series_pk == Series.pk)
    for keyword, key in KEYS.items():
        value = _value(identifier, keyword)
        if value and _DEPTH[key.level] <= depth:
            cond = condition(keyword, value, fuzzy=False)
            if cond is not None:
                query = query.where(cond)
    order = [Study.StudyDate, Study.pk]
    if level == "PATIENT":
        query = query.where(
            Study.pk.in_(select(func.min(Study.pk)).group_by(Study.patient_pk).scalar_subquery())
        )
    if depth >= 2:
        order += [Series.SeriesNumber, Series.pk]
    if depth >= 3:
        order += [Instance.InstanceNumber, Instance.pk]
    return level, query.order_by(*order).limit(MAX_MATCHES)


def _counts(depth: int) -> dict[str, Any]:
    """Count columns of the tables a query at this depth joins."""
    return {k: c for k, c in _COUNTS.items() if _LEVEL_OF_TABLE[c.class_] <= depth}


def _from_json(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(raw)
    return obj


def run_find(engine: Engine, identifier: Dataset) -> Iterator[Dataset]:
    """Yield one response identifier per match (PS3.4 C.4.1.1.3.2)."""
    level, query = build_query(identifier)
    wanted = [elem.keyword for elem in identifier if elem.keyword]
    with Session(engine) as s:
        rows = s.execute(query).all()
    for row in rows:
        merged: dict[str, Any] = {}
        for part in row:
            if isinstance(part, bytes):
                merged.update(_from_json(part))
        stored = Dataset.from_json(merged, bulk_data_uri_handler=lambda *_: b"")
        names = list(_counts(max(1, LEVELS.index(level))))
        counts = dict(zip(names, row[len(row) - len(names) :], strict=True))
        yield _response(identifier, stored, counts, wanted, level)


def _response(
    identifier: Dataset, stored: Dataset, counts: dict[str, Any], wanted: list[str], level: str
) -> Dataset:
    out = Dataset()
    out.SpecificCharacterSet = stored.get("SpecificCharacterSet", "ISO_IR 192")
    for keyword in wanted:
        if keyword in ("QueryRetrieveLevel", "SpecificCharacterSet"):
            continue
        if keyword == "ModalitiesInStudy":
            out.ModalitiesInStudy = [m for m in str(counts[keyword]).split("\\") if m]
        elif keyword in counts:
            setattr(out, keyword, counts[keyword])
        elif keyword in stored:
            out[keyword] = stored[keyword]
        else:
            out[keyword] = identifier[keyword]
    out.QueryRetrieveLevel = level
    return out
