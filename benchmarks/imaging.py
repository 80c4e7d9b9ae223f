"""Imaging benchmark: rendered JPEG, frames and transcoding, with Orthanc in the same run.

    .venv/bin/python benchmarks/imaging.py [--repeat 50] [--no-orthanc]

Corpus: 512x512 CT slices, 12 bits stored with CT-like noise (what a viewer asks for most),
stored uncompressed and as JPEG 2000 lossless. Figures (sequential requests on one keep-alive
connection, after warm-up): rendered JPEG p50, frame retrieval p50 (OHIF's Accept, as stored),
and transcoding throughput in MB/s of uncompressed pixel data (Explicit VR LE -> JPEG-LS
lossless; JPEG 2000 -> Explicit VR LE).
Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``) is measured on the endpoints it supports.
Results also go to benchmarks/out/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.demo import PatientSpec, SeriesSpec, StudySpec, derived_uid, study_files
from benchmarks import servers
from benchmarks.orthanc import available as orthanc_available
from benchmarks.orthanc import orthanc
from benchmarks.servers import free_port

OUT = Path(__file__).parent / "out"
OHIF_FRAMES = "multipart/related; type=application/octet-stream; transfer-syntax=*"
J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
JLS_LOSSLESS = "1.2.840.10008.1.2.4.80"
EXPLICIT = "1.2.840.10008.1.2.1"


def corpus() -> tuple[StudySpec, list[bytes]]:
    spec = StudySpec(
        PatientSpec("BENCH-IMG", "Bench^Imaging"),
        [
            SeriesSpec("CT", 10, 512, 512, "native"),
            SeriesSpec("CT", 10, 512, 512, "j2k", transfer_syntax=J2K_LOSSLESS),
        ],
        study_uid=derived_uid("bench-imaging"),
    )
    return spec, [_noisy(f, i) for i, f in enumerate(study_files(spec))]


def _noisy(data: bytes, seed: int) -> bytes:
    """The flat phantom plus Gaussian noise (sigma 20 HU), so codecs see CT-like entropy
    (about 2:1 lossless) instead of a trivially compressible picture."""
    import io

    import numpy as np
    import pydicom

    from app.archive.transcode import encode_dataset

    ds = pydicom.dcmread(io.BytesIO(data))
    syntax = str(ds.file_meta.TransferSyntaxUID)
    arr = ds.pixel_array.astype(np.int32)
    noise = np.random.default_rng(seed).normal(0, 20, arr.shape).astype(np.int32)
    pixels = np.clip(arr + noise, 0, 4095).astype(np.uint16)
    ds.PixelData = pixels.tobytes()
    ds["PixelData"].VR = "OW"
    ds["PixelData"].is_undefined_length = False
    ds.file_meta.TransferSyntaxUID = EXPLICIT
    if syntax != EXPLICIT:
        encode_dataset(ds, syntax)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@contextmanager
def imageshare() -> Iterator[str]:
    """``imageshare serve`` in a fresh data folder (SQLite); yields its DICOMweb root."""
    with servers.imageshare() as (root, _pid):
        yield root


def stow(client: httpx.Client, root: str, files: list[bytes]) -> None:
    boundary = uuid.uuid4().hex
    body = (
        b"".join(
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + f + b"\r\n"
            for f in files
        )
        + f"--{boundary}--\r\n".encode()
    )
    ctype = f'multipart/related; type="application/dicom"; boundary={boundary}'
    r = client.post(f"{root}/studies", content=body, headers={"Content-Type": ctype}, timeout=300)
    r.raise_for_status()


def timed(fn: Callable[[], httpx.Response], repeat: int) -> tuple[list[float], int]:
    """Latencies (ms) of ``repeat`` calls after two warm-ups, and the last body size."""
    for _ in range(2):
        fn().raise_for_status()
    times = []
    size = 0
    for _ in range(repeat):
        t = time.perf_counter()
        r = fn()
        r.raise_for_status()
        size = len(r.content)
        times.append((time.perf_counter() - t) * 1000)
    return times, size


def summary(times: list[float]) -> dict[str, float]:
    q = statistics.quantiles(times, n=20)
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(q[18], 2)}


def measure(name: str, root: str, spec: StudySpec, files: list[bytes], repeat: int) -> dict:
    import io

    import pydicom

    ds = [pydicom.dcmread(io.BytesIO(f), stop_before_pixels=True) for f in files]
    native, j2k = ds[4], ds[14]
    pixel_mb = 512 * 512 * 2 / 1e6

    def inst(d: pydicom.Dataset) -> str:
        return (
            f"{root}/studies/{d.StudyInstanceUID}/series/{d.SeriesInstanceUID}"
            f"/instances/{d.SOPInstanceUID}"
        )

    results: dict[str, object] = {"server": name}
    # identity: Orthanc gzips answers by default, which would measure zlib, not imaging.
    with httpx.Client(timeout=120, headers={"Accept-Encoding": "identity"}) as c:
        t0 = time.perf_counter()
        stow(c, root, files)
        results["stow_s"] = round(time.perf_counter() - t0, 2)
        cases = {
            "rendered_jpeg_512_ct": (inst(native) + "/rendered", "image/jpeg"),
            "frame_native_512_ct": (inst(native) + "/frames/1", OHIF_FRAMES),
            "frame_j2k_512_ct_as_stored": (inst(j2k) + "/frames/1", OHIF_FRAMES),
            "transcode_native_to_jpegls": (
                inst(native),
                f'multipart/related; type="application/dicom"; transfer-syntax={JLS_LOSSLESS}',
            ),
            "transcode_j2k_to_explicit": (
                inst(j2k),
                f'multipart/related; type="application/dicom"; transfer-syntax={EXPLICIT}',
            ),
        }
        for label, (url, accept) in cases.items():
            try:
                times, size = timed(lambda u=url, a=accept: c.get(u, headers={"Accept": a}), repeat)
            except httpx.HTTPError as exc:
                results[label] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
                continue
            entry: dict[str, object] = {**summary(times), "bytes": size}
            if label.startswith("transcode"):
                entry["pixel_MB_per_s"] = round(pixel_mb / (statistics.median(times) / 1000), 1)
            results[label] = entry
            print(f"  {name:>12} {label:<30} {entry}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--no-orthanc", action="store_true")
    args = parser.parse_args()
    spec, files = corpus()
    out: dict[str, object] = {"corpus": "10 + 10 CT 512x512 16-bit, native and J2K lossless"}
    with imageshare() as root:
        out["imageshare"] = measure("Image Share", root, spec, files, args.repeat)
    if not args.no_orthanc and orthanc_available():
        with orthanc(free_port(), free_port()) as root:
            out["orthanc"] = measure("Orthanc", root, spec, files, args.repeat)
    elif not args.no_orthanc:
        print("Orthanc not installed (apt-get install orthanc orthanc-dicomweb): skipped")
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"imaging-{stamp}.json").write_text(json.dumps(out, indent=2))
    print(f"written benchmarks/out/imaging-{stamp}.json")


if __name__ == "__main__":
    main()
