"""Reports found at ingest: encapsulated PDF and Structured Reports rendered to HTML."""

from __future__ import annotations

import io

import pydicom

from app.archive import sr
from app.archive.reports import ENCAPSULATED_PDF, REPORT_TYPE, report_content
from app.demo import pdf_report
from tests import factory
from tests.fhir_helpers import BASIC_TEXT_SR, sr_report


def test_pdf_is_extracted_without_padding() -> None:
    spec = factory.study("R1")
    ds = pydicom.dcmread(io.BytesIO(pdf_report(spec, "odd length")))
    content = report_content(ENCAPSULATED_PDF, ds)
    assert content is not None
    assert content.content_type == "application/pdf"
    assert content.data.startswith(b"%PDF-") and content.data.endswith(b"%%EOF\n")
    assert len(content.data) == ds.EncapsulatedDocumentLength
    assert content.type_code == REPORT_TYPE


def test_sr_is_rendered_and_escaped() -> None:
    spec = factory.study("R2")
    ds = pydicom.dcmread(
        io.BytesIO(sr_report(spec, "No <script>alert(1)</script> mass", "Normal & fine"))
    )
    content = report_content(BASIC_TEXT_SR, ds)
    assert content is not None and content.content_type == "text/html"
    html = content.data.decode()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Normal &amp; fine" in html
    assert "<h1>Diagnostic Imaging Report</h1>" in html and "<h2>Findings</h2>" in html
    assert content.type_code.value == "18748-4" and content.final


def test_preliminary_sr() -> None:
    ds = pydicom.dcmread(io.BytesIO(sr_report(factory.study("R3"), "x", "y", final=False)))
    assert not sr.is_final(ds)
    assert "partial, unverified" in sr.render_html(ds)


def test_images_are_not_reports() -> None:
    data = factory.files(factory.study("R4", per_series=1))[0]
    ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    assert report_content(str(ds.SOPClassUID), ds) is None
