"""WADO-RS frames and pixel-data bulk data against the live server (PS3.18 §10.4.1.1.4)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

from app.demo import PatientSpec, SeriesSpec, StudySpec
from tests.conftest import LiveServer, run_server
from tests.imaging import decode_frame, parts, store_study

OHIF_ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*"
OCTET = 'multipart/related; type="application/octet-stream"'


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict]]:
    with run_server(tmp_path_factory.mktemp("frames"), auth="off") as server:
        spec = StudySpec(
            PatientSpec("FR-1", "Frames^Test"),
            [
                SeriesSpec("CT", 1, 64, 48),
                SeriesSpec("CT", 1, 32, 32, frames=5, transfer_syntax=JPEG2000Lossless),
                SeriesSpec("CT", 1, 32, 32, frames=3, transfer_syntax=RLELossless),
                SeriesSpec("CT", 1, 32, 32, transfer_syntax=DeflatedExplicitVRLittleEndian),
                SeriesSpec("OT", 1, 16, 16, photometric="RGB", frames=2),
            ],
            study_uid=str(generate_uid()),
            with_pdf_report=True,
        )
        datasets = store_study(server, spec)
        named = dict(zip(["ct", "j2k", "rle", "deflate", "rgb", "pdf"], datasets, strict=True))
        yield server, named


def frames_url(server: LiveServer, ds: Dataset, frames: str) -> str:
    return (
        f"{server.dicomweb}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/frames/{frames}"
    )


def get(url: str, accept: str) -> httpx.Response:
    return httpx.get(url, headers={"Accept": accept}, timeout=30)


def test_native_frame_is_the_raw_little_endian_pixels(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    r = get(frames_url(server, ds["ct"], "1"), OHIF_ACCEPT)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(
        'multipart/related; type="application/octet-stream"'
    )
    [(ctype, data)] = parts(r)
    assert ctype == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    assert data == ds["ct"].pixel_array.astype("<u2").tobytes()


def test_compressed_frames_as_stored_with_ohif_accept(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    j2k = ds["j2k"]
    r = get(frames_url(server, j2k, "1,3,5"), OHIF_ACCEPT)
    assert r.status_code == 200
    got = parts(r)
    assert [c for c, _ in got] == [
        f"application/octet-stream; transfer-syntax={JPEG2000Lossless}"
    ] * 3
    expected = j2k.pixel_array
    for (_, data), index in zip(got, (0, 2, 4), strict=True):
        assert data[:4] == b"\xff\x4f\xff\x51"  # a J2K codestream (SOC, SIZ)
        assert np.array_equal(decode_frame(j2k, data, JPEG2000Lossless), expected[index])


def test_compressed_frames_decoded_when_octet_stream_has_no_syntax(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    rle = ds["rle"]
    got = parts(get(frames_url(server, rle, "2"), OCTET))
    assert got[0][0] == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    assert got[0][1] == rle.pixel_array[1].astype("<u2").tobytes()


def test_frames_transcoded_to_jpeg_ls_on_request(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    r = get(frames_url(server, ds["rle"], "3"), 'multipart/related; type="image/jls"')
    assert r.status_code == 200
    [(ctype, data)] = parts(r)
    assert ctype == f"image/jls; transfer-syntax={JPEGLSLossless}"
    assert np.array_equal(decode_frame(ds["rle"], data, JPEGLSLossless), ds["rle"].pixel_array[2])


def test_deflated_instance_frames(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    [(_, data)] = parts(get(frames_url(server, ds["deflate"], "1"), OHIF_ACCEPT))
    assert data == ds["deflate"].pixel_array.astype("<u2").tobytes()


def test_rgb_multiframe_native(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    [(_, data)] = parts(get(frames_url(server, ds["rgb"], "2"), OHIF_ACCEPT))
    assert data == ds["rgb"].pixel_array[1].tobytes()


def test_unproducible_syntax_is_406(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    # JPEG baseline holds 8 bits; the CT has 12 bits stored.
    r = get(frames_url(server, ds["ct"], "1"), 'multipart/related; type="image/jpeg"')
    assert r.status_code == 406
    assert get(frames_url(server, ds["ct"], "1"), "text/html").status_code == 406
    r = get(frames_url(server, ds["ct"], "1"), OCTET + "; transfer-syntax=1.2.3.4")
    assert r.status_code == 406


@pytest.mark.parametrize(("frames", "status"), [("0", 400), ("1,x", 400), ("", 404), ("9", 404)])
def test_bad_frame_lists(corpus, frames: str, status: int) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    assert get(frames_url(server, ds["rle"], frames), OHIF_ACCEPT).status_code == status


def test_frames_of_a_document_are_404(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    assert get(frames_url(server, ds["pdf"], "1"), OHIF_ACCEPT).status_code == 404


def test_dicomweb_client_retrieves_frames(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    rle = ds["rle"]
    client = DICOMwebClient(server.dicomweb)
    frames = client.retrieve_instance_frames(
        rle.StudyInstanceUID,
        rle.SeriesInstanceUID,
        rle.SOPInstanceUID,
        frame_numbers=[1, 3],
        media_types=(("application/octet-stream", "1.2.840.10008.1.2.1"),),
    )
    assert [bytes(f) for f in frames] == [
        rle.pixel_array[i].astype("<u2").tobytes() for i in (0, 2)
    ]


def test_pixel_bulkdata_uri_of_compressed_instance_resolves(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    j2k = ds["j2k"]
    meta = httpx.get(
        f"{server.dicomweb}/studies/{j2k.StudyInstanceUID}/series/{j2k.SeriesInstanceUID}/metadata",
        headers={"Accept": "application/dicom+json"},
    ).json()
    uri = meta[0]["7FE00010"]["BulkDataURI"]
    assert uri.startswith(server.url)
    got = parts(get(uri, OHIF_ACCEPT))
    assert len(got) == 5
    assert np.array_equal(decode_frame(j2k, got[4][1], JPEG2000Lossless), j2k.pixel_array[4])
    native = parts(get(uri, OCTET))
    assert native[0][1] == j2k.pixel_array[0].astype("<u2").tobytes()
