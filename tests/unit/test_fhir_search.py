"""Search value parsing: dates with prefixes, tokens, references, result parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.errors import InvalidInput
from app.fhir.imaging_study import RESOURCE as IMAGING_STUDY
from app.fhir.models import element_names
from app.fhir.registry import IMAGING_STUDY as WIRED
from app.fhir.search import (
    MAX_COUNT,
    Ref,
    Token,
    parse_date,
    parse_reference,
    parse_search,
    parse_token,
    split_values,
)

BASE = "https://images.example.org/fhir"
SPEC = WIRED.spec(element_names("ImagingStudy"))


@pytest.mark.parametrize(
    ("raw", "prefix", "start", "end"),
    [
        ("2024", "eq", datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)),
        ("ge2024-12", "ge", datetime(2024, 12, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)),
        ("lt2024-02-29", "lt", datetime(2024, 2, 29, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)),
        (
            "gt2024-01-10T10:00Z",
            "gt",
            datetime(2024, 1, 10, 10, tzinfo=UTC),
            datetime(2024, 1, 10, 10, 1, tzinfo=UTC),
        ),
        (
            "le2024-01-10T10:00:05+02:00",
            "le",
            datetime(2024, 1, 10, 10, 0, 5, tzinfo=timezone(timedelta(hours=2))),
            datetime(2024, 1, 10, 10, 0, 6, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
def test_date_ranges(raw: str, prefix: str, start: datetime, end: datetime) -> None:
    value = parse_date(raw)
    assert (value.prefix, value.start, value.end) == (prefix, start, end)


def test_date_days_for_da_columns() -> None:
    v = parse_date("2024-02")
    assert (v.first_day, v.last_day) == ("20240201", "20240229")


@pytest.mark.parametrize("raw", ["xx2024", "2024-13", "2024-02-30", "24-01-01", "ap2024", "2024-1"])
def test_bad_dates_are_400(raw: str) -> None:
    with pytest.raises(InvalidInput):
        parse_date(raw)


def test_tokens() -> None:
    assert parse_token("urn:dicom:uid|urn:oid:1.2") == Token("urn:dicom:uid", "urn:oid:1.2")
    assert parse_token("A-1") == Token(None, "A-1")
    assert parse_token("|A-1") == Token("", "A-1")
    assert parse_token("http://loinc.org|") == Token("http://loinc.org", None)
    assert split_values("a,b\\,c") == ["a", "b,c"]


def test_references() -> None:
    assert parse_reference("abc", BASE) == Ref(None, "abc")
    assert parse_reference("Patient/abc", BASE) == Ref("Patient", "abc")
    assert parse_reference(f"{BASE}/Patient/abc/_history/2", BASE) == Ref("Patient", "abc")
    assert parse_reference("https://elsewhere.example.org/fhir/Patient/abc", BASE) is None
    with pytest.raises(InvalidInput):
        parse_reference("Patient/a b", BASE)


def test_unknown_parameters_lenient_and_strict() -> None:
    req = parse_search([("foo", "1"), ("_sort", "x"), ("modality", "CT")], SPEC, BASE, False)
    assert req.ignored == ["search parameter 'foo'", "search parameter '_sort'"]
    assert req.applied == [("modality", "CT")]
    with pytest.raises(InvalidInput) as err:
        parse_search([("foo", "1")], SPEC, BASE, True)
    assert "foo" in err.value.message


def test_unsupported_modifier_is_always_an_error() -> None:
    with pytest.raises(InvalidInput):
        parse_search([("modality:text", "CT")], SPEC, BASE, False)


def test_result_parameters() -> None:
    req = parse_search(
        [
            ("_count", "5000"),
            ("_offset", "40"),
            ("_total", "none"),
            ("_elements", "identifier,bogus"),
            ("_include", "ImagingStudy:patient:Patient"),
            ("_revinclude", "DocumentReference:related"),
            ("_summary", "count"),
            ("_format", "json"),
        ],
        SPEC,
        BASE,
        False,
    )
    assert req.count == MAX_COUNT and req.offset == 40 and req.total is False
    assert req.elements == frozenset({"identifier"})
    assert req.includes == ["ImagingStudy:patient"]
    assert req.revincludes == ["DocumentReference:related"]
    assert req.summary_count is True
    assert ("_format", "json") not in req.applied


@pytest.mark.parametrize(
    "item", [("_count", "-1"), ("_count", "x"), ("_offset", "1.5"), ("_total", "all")]
)
def test_bad_result_parameters(item: tuple[str, str]) -> None:
    with pytest.raises(InvalidInput):
        parse_search([item], SPEC, BASE, False)


def test_empty_value_is_ignored() -> None:
    req = parse_search([("patient", "")], SPEC, BASE, True)
    assert req.conditions == [] and req.applied == []


def test_unwired_resource_has_no_includes() -> None:
    spec = IMAGING_STUDY.spec(frozenset())
    with pytest.raises(InvalidInput):
        parse_search([("_include", "ImagingStudy:patient")], spec, BASE, True)
