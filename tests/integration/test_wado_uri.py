"""WADO-URI (PS3.18 §9) against the live server: objects, rendered JPEG/PNG and the errors."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import RLELossless, generate_uid

from app.archive import syntaxes as ts
from app.demo import PatientSpec, SeriesSpec, StudySpec, study_files
from tests.conftest import LiveServer, run_server
from tests.imaging import expected_gray, stow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict]]:
    with run_server(tmp_path_factory.mktemp("wadouri"), auth="off") as server:
        spec = StudySpec(
            PatientSpec("WU-1", "Uri^Test"),
            [
                SeriesSpec("CT", 1, 64, 64),
                SeriesSpec("CT", 1, 32, 32, frames=3, transfer_syntax=RLELossless),
            ],
            study_uid=str(generate_uid()),
            with_pdf_report=True,
        )
        files = list(study_files(spec))
        stow(server, files)
        names = ["ct", "multi", "pdf"]
        yield (
            server,
            {n: (f, pydicom.dcmread(io.BytesIO(f))) for n, f in zip(names, files, strict=True)},
        )


def wado(server: LiveServer, ds: pydicom.Dataset, **params: str) -> httpx.Response:
    query = {
        "requestType": "WADO",
        "studyUID": ds.StudyInstanceUID,
        "seriesUID": ds.SeriesInstanceUID,
        "objectUID": ds.SOPInstanceUID,
        **params,
    }
    return httpx.get(f"{server.url}/wado", params=query, timeout=30)


def test_default_is_jpeg_of_the_image(corpus) -> None:  # type: ignore[no-untyped-def]
    server, c = corpus
    r = wado(server, c["ct"][1])
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    got = np.asarray(Image.open(io.BytesIO(r.content))).astype(int)
    assert np.abs(got - expected_gray(c["ct"][1])).mean() < 3


def test_png_with_window_size_and_region(corpus) -> None:  # type: ignore[no-untyped-def]
    server, c = corpus
    ds = c["ct"][1]
    r = wado(server, ds, contentType="image/png", windowCenter="400", windowWidth="2000")
    got = np.asarray(Image.open(io.BytesIO(r.content)))
    assert np.abs(got.astype(int) - expected_gray(ds, window=(400, 2000))).max() <= 1
    small = wado(server, ds, contentType="image/png", rows="32", columns="32")
    assert Image.open(io.BytesIO(small.content)).size == (32, 32)
    region = wado(server, ds, contentType="image/png", region="0.25,0.25,0.75,0.75")
    got = np.asarray(Image.open(io.BytesIO(region.content))).astype(int)
    assert np.abs(got - expected_gray(ds)[16:48, 16:48]).max() <= 1


def test_frame_number(corpus) -> None:  # type: ignore[no-untyped-def]
    server, c = corpus
    ds = c["multi"][1]
    r = wado(server, ds, contentType="image/png", frameNumber="2")
    got = np.asarray(Image.open(io.BytesIO(r.content))).astype(int)
    assert np.abs(got - expected_gray(ds, frame=1)).max() <= 1
    assert wado(server, ds, frameNumber="4").status_code == 400


def test_application_dicom_default_is_explicit_le(corpus) -> None:  # type: ignore[no-untyped-def]
    server, c = corpus
    raw, ds = c["multi"]
    r = wado(server, ds, contentType="application/dicom")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/dicom"
    got = pydicom.dcmread(io.BytesIO(r.content))
    assert got.file_meta.TransferSyntaxUID == ts.EXPLICIT_VR_LE
    assert np.array_equal(got.pixel_array, ds.pixel_array)
    stored = wado(server, ds, contentType="application/dicom", transferSyntax="*")
    assert stored.content == raw
    jls = wado(server, ds, contentType="application/dicom", transferSyntax=ts.JPEG_LS_LOSSLESS)
    assert (
        pydicom.dcmread(io.BytesIO(jls.content)).file_meta.TransferSyntaxUID == ts.JPEG_LS_LOSSLESS
    )


def test_document_is_dicom_only(corpus) -> None:  # type: ignore[no-untyped-def]
    server, c = corpus
    raw, ds = c["pdf"]
    assert wado(server, ds).content == raw
    assert wado(server, ds, contentType="image/jpeg").status_code == 406


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"requestType": "WADOX"}, 400),
        ({"objectUID": ""}, 400),
        ({"objectUID": "1.2.3"}, 404),
        ({"windowCenter": "40"}, 400),
        ({"windowCenter": "a", "windowWidth": "b"}, 400),
        ({"rows": "0"}, 400),
        ({"imageQuality": "101"}, 400),
        ({"region": "0.5,0.5,0.2,0.9"}, 400),
        ({"anonymize": "yes"}, 400),
        ({"contentType": "text/html"}, 406),
        ({"contentType": "application/dicom", "transferSyntax": ts.JPEG_BASELINE}, 406),
    ],
)
def test_errors(corpus, params: dict, status: int) -> None:  # type: ignore[no-untyped-def]
    server, c = corpus
    assert wado(server, c["ct"][1], **params).status_code == status
