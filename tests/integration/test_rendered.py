"""Rendered and thumbnail resources against reference renderings (PS3.18 §8.3.5, PS3.3 C.11).

The expected images are computed here with numpy from the known phantoms and the linear VOI
formula written out independently of the server code; PNG must match within 1 grey level,
JPEG within a small mean error.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import JPEG2000Lossless, JPEGBaseline8Bit, generate_uid

from app.demo import PatientSpec, SeriesSpec, StudySpec, study_files
from tests.conftest import LiveServer, run_server
from tests.imaging import expected_gray, parts, store_study, stow

NAMES = ["ct", "mono1", "signed", "rgb", "ybr", "jpeg_rgb", "multi", "pdf"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict]]:
    with run_server(tmp_path_factory.mktemp("rendered"), auth="off") as server:
        spec = StudySpec(
            PatientSpec("RD-1", "Render^Test"),
            [
                SeriesSpec("CT", 1, 64, 48),
                SeriesSpec("CR", 1, 40, 40, photometric="MONOCHROME1"),
                SeriesSpec("CT", 1, 32, 32, signed=True),
                SeriesSpec("OT", 1, 32, 32, photometric="RGB"),
                SeriesSpec("OT", 1, 32, 32, photometric="YBR_FULL"),
                SeriesSpec("OT", 1, 32, 32, photometric="RGB", transfer_syntax=JPEGBaseline8Bit),
                SeriesSpec("CT", 1, 32, 32, frames=4, transfer_syntax=JPEG2000Lossless),
            ],
            study_uid=str(generate_uid()),
            with_pdf_report=True,
        )
        datasets = store_study(server, spec)
        yield server, dict(zip(NAMES, datasets, strict=True))


def url(server: LiveServer, ds: Dataset, tail: str = "rendered") -> str:
    return (
        f"{server.dicomweb}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/{tail}"
    )


def fetch(u: str, accept: str = "image/png", **params: str) -> httpx.Response:
    return httpx.get(u, headers={"Accept": accept}, params=params, timeout=30)


def image(r: httpx.Response) -> np.ndarray:
    assert r.status_code == 200, r.text
    return np.asarray(Image.open(io.BytesIO(r.content)))


def test_ct_png_matches_reference(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    r = fetch(url(server, ds["ct"]))
    assert r.headers["content-type"] == "image/png"
    got = image(r)
    expected = expected_gray(ds["ct"])
    assert got.shape == expected.shape == (64, 48)
    assert np.abs(got.astype(int) - expected).max() <= 1
    assert len(np.unique(got)) >= 3  # not blank: air, soft tissue, bright spot


def test_ct_jpeg_default_and_quality(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    r = fetch(url(server, ds["ct"]), accept="*/*")
    assert r.headers["content-type"] == "image/jpeg"
    got = image(r).astype(int)
    assert np.abs(got - expected_gray(ds["ct"])).mean() < 3
    small = fetch(url(server, ds["ct"]), accept="image/jpeg", quality="5")
    assert len(small.content) < len(r.content)


def test_window_parameter_overrides_the_object(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    got = image(fetch(url(server, ds["ct"]), window="400,2000,linear"))
    expected = expected_gray(ds["ct"], window=(400, 2000))
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_monochrome1_is_inverted(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    got = image(fetch(url(server, ds["mono1"])))
    expected = expected_gray(ds["mono1"])
    assert np.abs(got.astype(int) - expected).max() <= 1
    assert got[0, 0] == 255  # background (lowest value) is white in MONOCHROME1


def test_signed_pixels(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    got = image(fetch(url(server, ds["signed"])))
    expected = expected_gray(ds["signed"])
    assert ds["signed"].PixelRepresentation == 1
    assert np.abs(got.astype(int) - expected).max() <= 1


@pytest.mark.parametrize("name", ["rgb", "ybr"])
def test_colour_png(corpus, name: str) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    got = image(fetch(url(server, ds[name])))
    assert got.shape == (32, 32, 3)
    reference = ds[name].pixel_array  # pydicom converts YBR_FULL to RGB
    assert np.abs(got.astype(int) - reference.astype(int)).max() <= 2


def test_jpeg_baseline_ybr422_renders(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    got = image(fetch(url(server, ds["jpeg_rgb"])))
    assert np.abs(got.astype(int) - ds["jpeg_rgb"].pixel_array.astype(int)).mean() < 2


def test_multiframe_frame_and_gif(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    multi = ds["multi"]
    got = image(fetch(url(server, multi, "frames/3/rendered")))
    assert np.abs(got.astype(int) - expected_gray(multi, frame=2)).max() <= 1
    gif = fetch(url(server, multi), accept="image/gif")
    assert gif.headers["content-type"] == "image/gif"
    assert Image.open(io.BytesIO(gif.content)).n_frames == 4


def test_viewport_scales_and_crops(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    assert image(fetch(url(server, ds["ct"]), viewport="24,24")).shape == (24, 18)
    cropped = image(fetch(url(server, ds["ct"]), viewport="16,16,8,8,16,16"))
    expected = expected_gray(ds["ct"])[8:24, 8:24]
    assert np.abs(cropped.astype(int) - expected).max() <= 1
    flipped = image(fetch(url(server, ds["ct"]), viewport="16,16,24,8,-16,16"))
    assert np.abs(flipped.astype(int) - expected[:, ::-1]).max() <= 1


def test_thumbnails(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    ct = ds["ct"]
    study = f"{server.dicomweb}/studies/{ct.StudyInstanceUID}"
    for u in (f"{study}/thumbnail", f"{study}/series/{ct.SeriesInstanceUID}/thumbnail"):
        r = fetch(u, accept="image/jpeg")
        assert r.headers["content-type"] == "image/jpeg"
        assert max(image(r).shape[:2]) == 128
    assert image(fetch(url(server, ct, "thumbnail"), viewport="32,32")).shape == (32, 24)


def test_series_rendered_is_multipart(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    ct = ds["ct"]
    r = fetch(
        f"{server.dicomweb}/studies/{ct.StudyInstanceUID}/series/{ct.SeriesInstanceUID}/rendered",
        accept='multipart/related; type="image/png"',
    )
    [(ctype, data)] = parts(r)
    assert ctype == "image/png"
    assert (
        np.abs(np.asarray(Image.open(io.BytesIO(data))).astype(int) - expected_gray(ct)).max() <= 1
    )


def test_pdf_renders_as_itself_and_frames_do_not(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    r = fetch(url(server, ds["pdf"]), accept="application/pdf")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    assert fetch(url(server, ds["pdf"]), accept="image/jpeg").status_code == 404


@pytest.mark.parametrize(
    ("params", "accept", "status"),
    [
        ({"window": "abc"}, "image/png", 400),
        ({"window": "40,0"}, "image/png", 400),
        ({"window": "40,400,cubic"}, "image/png", 400),
        ({"quality": "0"}, "image/jpeg", 400),
        ({"viewport": "10"}, "image/png", 400),
        ({"viewport": "0,10"}, "image/png", 400),
        ({}, "text/html", 406),
    ],
)
def test_bad_parameters(corpus, params: dict, accept: str, status: int) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    assert fetch(url(server, ds["ct"]), accept=accept, **params).status_code == status


def test_unknown_instance_is_404(corpus) -> None:  # type: ignore[no-untyped-def]
    server, ds = corpus
    ct = ds["ct"]
    series = f"{server.dicomweb}/studies/{ct.StudyInstanceUID}/series/{ct.SeriesInstanceUID}"
    u = f"{series}/instances/1.2.3/rendered"
    assert fetch(u).status_code == 404


def test_voi_lut_sequence_is_applied(corpus) -> None:  # type: ignore[no-untyped-def]
    """An object with a VOI LUT Sequence and no window: the LUT decides (PS3.3 C.11.2.1.1)."""
    server, _ = corpus
    mr = StudySpec(PatientSpec("RD-2", "Lut^Test"), [SeriesSpec("MR", 1, 32, 32)])
    [data] = study_files(mr)
    obj = pydicom.dcmread(io.BytesIO(data))
    del obj.WindowCenter, obj.WindowWidth
    first, size = 200, 900
    table = np.linspace(65535, 0, size).astype(np.uint16)  # an inverting LUT
    item = Dataset()
    item.LUTDescriptor = [size, first, 16]
    item.LUTData = table.tolist()
    item["LUTData"].VR = "US"
    obj.VOILUTSequence = [item]
    buf = io.BytesIO()
    obj.save_as(buf)
    stow(server, [buf.getvalue()])
    got = image(fetch(url(server, obj)))
    values = obj.pixel_array.astype(int)
    expected = table[np.clip(values - first, 0, size - 1)].astype(float) * 255 / 65535
    assert np.abs(got.astype(int) - np.rint(expected)).max() <= 1
