"""WADO-RS instance retrieve with transfer-syntax negotiation and transcoding (PS3.18 §8.7.3.5).

Every readable stored syntax is fetched in every writable one; lossless targets must give the
identical pixels, lossy ones close pixels and Lossy Image Compression = 01.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from app.archive import syntaxes as ts
from app.demo import PatientSpec, SeriesSpec, StudySpec
from tests.conftest import LiveServer, run_server
from tests.imaging import parts, store_study

STORED = [
    ts.EXPLICIT_VR_LE,
    ts.IMPLICIT_VR_LE,
    ts.DEFLATED,
    ts.RLE,
    ts.JPEG_LS_LOSSLESS,
    ts.J2K_LOSSLESS,
    ts.JPEG_LOSSLESS_SV1,
    ts.JPEG_EXTENDED,
]
LOSSLESS_TARGETS = [
    ts.EXPLICIT_VR_LE,
    ts.IMPLICIT_VR_LE,
    ts.DEFLATED,
    ts.RLE,
    ts.JPEG_LS_LOSSLESS,
    ts.J2K_LOSSLESS,
    ts.JPEG_LOSSLESS,
    ts.JPEG_LOSSLESS_SV1,
]
LOSSY_TARGETS = [ts.JPEG_EXTENDED, ts.JPEG_LS_NEAR, ts.J2K]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict]]:
    with run_server(tmp_path_factory.mktemp("transcode"), auth="off") as server:
        series = [SeriesSpec("CT", 1, 128, 128, transfer_syntax=s) for s in STORED]
        series.append(SeriesSpec("OT", 1, 128, 128, photometric="RGB"))
        series.append(SeriesSpec("CT", 1, 32, 32, signed=True))
        spec = StudySpec(
            PatientSpec("TC-1", "Transcode^Test"),
            series,
            study_uid=str(generate_uid()),
            with_pdf_report=True,
        )
        datasets = store_study(server, spec)
        names = [*STORED, "rgb", "signed", "pdf"]
        yield server, dict(zip(names, datasets, strict=True))


def retrieve(
    server: LiveServer, ds: Dataset, accept: str, level: str = "instance"
) -> httpx.Response:
    u = f"{server.dicomweb}/studies/{ds.StudyInstanceUID}"
    if level != "study":
        u += f"/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"
    return httpx.get(u, headers={"Accept": accept}, timeout=60)


def dicom_accept(syntax: str) -> str:
    return f'multipart/related; type="application/dicom"; transfer-syntax={syntax}'


def one(r: httpx.Response) -> tuple[str, Dataset]:
    assert r.status_code == 200, r.text
    [(ctype, data)] = parts(r)
    return ctype, pydicom.dcmread(io.BytesIO(data))


@pytest.mark.parametrize("target", LOSSLESS_TARGETS)
@pytest.mark.parametrize("stored", STORED)
def test_lossless_transcoding_keeps_pixels(corpus, stored: str, target: str) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    original = ds[stored]
    ctype, got = one(retrieve(server, original, dicom_accept(target)))
    assert ctype == f"application/dicom; transfer-syntax={target}"
    assert got.file_meta.TransferSyntaxUID == target
    assert got.SOPInstanceUID == original.SOPInstanceUID
    assert np.array_equal(got.pixel_array, original.pixel_array)


@pytest.mark.parametrize("target", LOSSY_TARGETS)
def test_lossy_transcoding_is_marked(corpus, target: str) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    original = ds[ts.EXPLICIT_VR_LE]
    _, got = one(retrieve(server, original, dicom_accept(target)))
    assert got.file_meta.TransferSyntaxUID == target
    assert got.LossyImageCompression == "01"
    diff = np.abs(got.pixel_array.astype(int) - original.pixel_array.astype(int))
    assert diff.mean() < 40


def test_rgb_to_jpeg_baseline(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    _, got = one(retrieve(server, ds["rgb"], dicom_accept(ts.JPEG_BASELINE)))
    assert got.PhotometricInterpretation == "YBR_FULL_422"
    diff = np.abs(got.pixel_array.astype(int) - ds["rgb"].pixel_array.astype(int))
    assert diff.mean() < 4


def test_default_is_explicit_little_endian(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    _, got = one(retrieve(server, ds[ts.RLE], 'multipart/related; type="application/dicom"'))
    assert got.file_meta.TransferSyntaxUID == ts.EXPLICIT_VR_LE
    assert np.array_equal(got.pixel_array, ds[ts.RLE].pixel_array)


def test_star_sends_stored_bytes(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    ctype, got = one(retrieve(server, ds[ts.J2K_LOSSLESS], dicom_accept("*")))
    assert ctype == f"application/dicom; transfer-syntax={ts.J2K_LOSSLESS}"
    assert got.file_meta.TransferSyntaxUID == ts.J2K_LOSSLESS


def test_unproducible_is_406(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    # 12-bit CT cannot be JPEG baseline; signed pixels cannot go through libjpeg's lossless mode.
    assert (
        retrieve(server, ds[ts.EXPLICIT_VR_LE], dicom_accept(ts.JPEG_BASELINE)).status_code == 406
    )
    assert retrieve(server, ds["signed"], dicom_accept(ts.JPEG_LOSSLESS_SV1)).status_code == 406
    assert retrieve(server, ds["signed"], dicom_accept("1.2.3.4.5")).status_code == 406
    big_endian = dicom_accept(ts.EXPLICIT_VR_BE)
    assert retrieve(server, ds[ts.EXPLICIT_VR_LE], big_endian).status_code == 406


def test_signed_pixels_through_jpeg_ls(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    _, got = one(retrieve(server, ds["signed"], dicom_accept(ts.JPEG_LS_LOSSLESS)))
    assert np.array_equal(got.pixel_array, ds["signed"].pixel_array)


def test_accept_list_falls_through_to_a_producible_syntax(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    accept = f"{dicom_accept(ts.JPEG_BASELINE)}, {dicom_accept(ts.RLE)};q=0.5"
    _, got = one(retrieve(server, ds[ts.EXPLICIT_VR_LE], accept))
    assert got.file_meta.TransferSyntaxUID == ts.RLE


def test_study_with_pdf_in_compressed_syntax(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    pdf = ds["pdf"]
    r = httpx.get(
        f"{server.dicomweb}/studies/{pdf.StudyInstanceUID}/series/{pdf.SeriesInstanceUID}",
        headers={"Accept": dicom_accept(ts.J2K_LOSSLESS)},
    )
    [(ctype, data)] = parts(r)
    assert ctype == f"application/dicom; transfer-syntax={ts.EXPLICIT_VR_LE}"
    assert pydicom.dcmread(io.BytesIO(data)).EncapsulatedDocument.startswith(b"%PDF")
