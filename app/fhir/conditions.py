"""SQL conditions for search values, shared by the resource modules (FHIR R4 search.html).

Dates stored as DICOM DA strings compare by whole days (the resource's value is a day, so a
prefix compares ranges as search.html defines); instants compare as half-open ranges in UTC;
names match at the start of any part, accent- and case-insensitively, through the archive's
``fuzzy_pn`` column.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sqlalchemy import ColumnElement, and_, false, not_, or_

from app.archive.header import fuzzy_pn
from app.fhir.search import Builder, DateValue, Token


def any_of(conditions: Sequence[Any]) -> Any:
    return conditions[0] if len(conditions) == 1 else or_(*conditions)


def day_column(column: Any) -> Builder:
    """Dates stored as DICOM DA strings (YYYYMMDD): a value covers its whole day."""

    def build(values: Sequence[DateValue], _modifier: str) -> Any:
        return any_of([_day_condition(column, v) for v in values])

    return build


def _day_condition(column: Any, v: DateValue) -> ColumnElement[bool]:
    lo, hi = v.first_day, v.last_day
    present = column != ""
    cond: ColumnElement[bool] = {
        "eq": and_(column >= lo, column <= hi),
        "ne": not_(and_(column >= lo, column <= hi)),
        "lt": column < lo,
        "eb": column < lo,
        "gt": column > hi,
        "sa": column > hi,
        "le": column <= hi,
        "ge": column >= lo,
    }[v.prefix]
    return and_(present, cond)


def instant_column(column: Any) -> Builder:
    """Instants (meta.lastUpdated, DocumentReference.date) against a timestamp column."""

    def build(values: Sequence[DateValue], _modifier: str) -> Any:
        return any_of([_instant_condition(column, v) for v in values])

    return build


def _instant_condition(column: Any, v: DateValue) -> ColumnElement[bool]:
    s, e = v.start.astimezone(UTC), v.end.astimezone(UTC)
    return {  # type: ignore[no-any-return]
        "eq": and_(column >= s, column < e),
        "ne": or_(column < s, column >= e),
        "lt": column < s,
        "eb": column < s,
        "gt": column >= e,
        "sa": column >= e,
        "le": column < e,
        "ge": column >= s,
    }[v.prefix]


def name_words(column: Any) -> Builder:
    """Match at the start of any name part, accent- and case-insensitively (``fuzzy_pn``)."""

    def build(values: Sequence[str], modifier: str) -> Any:
        conds = []
        for v in values:
            needle = _like_escape(fuzzy_pn(v).strip())
            if not needle:
                conds.append(false())
            elif modifier == "contains":
                conds.append(column.like(f"%{needle}%", escape="\\"))
            else:
                conds.append(column.like(f"% {needle}%", escape="\\"))
        return any_of(conds)

    return build


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def id_column(column: Any) -> Builder:
    """``_id``: logical ids (token values without a system)."""

    def build(values: Sequence[Token], _modifier: str) -> Any:
        ids = [t.code for t in values if t.code and not t.system]
        return column.in_(ids) if ids else false()

    return build
