"""Content-Type / Accept parsing: quoting, case, order and extra parameters (PS3.18 §8.7)."""

from __future__ import annotations

from app.dicomweb.media import parse_accept, parse_media_type


def test_parameters_quoted_or_not_any_case_any_order() -> None:
    a = parse_media_type('multipart/related; type="application/dicom"; boundary="b1"')
    b = parse_media_type("Multipart/Related;BOUNDARY=b1;Type=application/dicom")
    assert a.type == b.type == "multipart/related"
    assert a.params == b.params == {"type": "application/dicom", "boundary": "b1"}


def test_accept_list_splits_outside_quotes_and_orders_by_q() -> None:
    header = (
        'multipart/related; type="application/pdf"; q=0.5, '
        'multipart/related; type="application/octet-stream, x"; q=0.9, */*;q=0.1'
    )
    ranges = parse_accept(header)
    assert [r.params.get("type") for r in ranges] == [
        "application/octet-stream, x",
        "application/pdf",
        None,
    ]
    assert ranges[-1].type == "*/*"


def test_transfer_syntax_parameter_kept() -> None:
    (r,) = parse_accept("multipart/related; type=application/octet-stream; transfer-syntax=*")
    assert r.params["transfer-syntax"] == "*"
    assert r.related_type == "application/octet-stream"


def test_missing_accept_means_anything() -> None:
    (r,) = parse_accept(None)
    assert r.matches("application/dicom+json")


def test_zero_quality_is_refused() -> None:
    assert parse_accept("application/json;q=0") == []
