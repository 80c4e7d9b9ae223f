"""Helpers shared by the imaging tests: store a corpus over STOW-RS, read multipart answers,
and the reference renderings computed from the known phantoms (PS3.3 C.11.2.1.2)."""

from __future__ import annotations

import io
import uuid

import httpx
import numpy as np
import pydicom
from pydicom.dataset import Dataset

from app.archive.transcode import frame_dataset
from app.demo import StudySpec, study_files
from app.dicomweb.media import parse_media_type
from tests.conftest import LiveServer


def stow(server: LiveServer, files: list[bytes]) -> httpx.Response:
    boundary = uuid.uuid4().hex
    body = b"".join(
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + f + b"\r\n"
        for f in files
    )
    body += f"--{boundary}--\r\n".encode()
    response = httpx.post(
        f"{server.dicomweb}/studies",
        content=body,
        headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            "Accept": "application/dicom+json",
        },
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response


def store_study(server: LiveServer, spec: StudySpec) -> list[Dataset]:
    files = list(study_files(spec))
    stow(server, files)
    return [pydicom.dcmread(io.BytesIO(f)) for f in files]


def parts(response: httpx.Response) -> list[tuple[str, bytes]]:
    """(Content-Type, body) of each part of a multipart/related answer, checked strictly."""
    ctype = parse_media_type(response.headers["content-type"])
    assert ctype.type == "multipart/related", response.headers["content-type"]
    boundary = ctype.params["boundary"].encode()
    body = response.content
    assert body.endswith(b"--" + boundary + b"--\r\n")
    out = []
    for chunk in body.split(b"--" + boundary)[1:-1]:
        assert chunk.startswith(b"\r\n") and chunk.endswith(b"\r\n")
        head, _, data = chunk[2:-2].partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode("latin-1").split("\r\n") if line)
        out.append((headers["Content-Type"], data))
    return out


def decode_frame(header: Dataset, frame: bytes, syntax: str) -> np.ndarray:
    """Decode one frame independently of the server (pydicom's pixel backends)."""
    return frame_dataset(header, frame, syntax).pixel_array


def window_linear(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 linear VOI function onto 0..255, written out independently."""
    x = values.astype(np.float64)
    low = center - 0.5 - (width - 1) / 2
    high = center - 0.5 + (width - 1) / 2
    y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255
    y = np.where(x <= low, 0, np.where(x > high, 255, y))
    return np.rint(y).astype(np.uint8)


def expected_gray(ds: Dataset, frame: int = 0, window: tuple[float, float] | None = None):  # type: ignore[no-untyped-def]
    """Reference rendering of a grayscale phantom: rescale, window, MONOCHROME1 inversion."""
    arr = ds.pixel_array
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        arr = arr[frame]
    values = arr.astype(np.float64) * float(ds.get("RescaleSlope", 1)) + float(
        ds.get("RescaleIntercept", 0)
    )
    center, width = window or (float(ds.WindowCenter), float(ds.WindowWidth))
    out = window_linear(values, center, width)
    return 255 - out if ds.PhotometricInterpretation == "MONOCHROME1" else out


def require_tool(name: str, path: str | None = None) -> str:
    """The path of an external tool (dcmtk, chromium). Missing: fail in CI, skip elsewhere.

    CI (``CI=true``, set by the CI runner) installs these in ``.ci/run``; a missing one there is a
    broken set-up, never a reason to pass quietly.
    """
    import os
    import shutil

    import pytest

    found = path if path and os.path.exists(path) else shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed (Debian: see README, 'Test prerequisites')"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
