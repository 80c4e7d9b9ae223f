"""De-identified instances per second on a corpus of 512x512 CT instances.

    .venv/bin/python benchmarks/deidentify.py [--instances 600] [--workers 1 2]

Writes a synthetic corpus (``app.demo``: several patients, 16-bit 512x512 CT, 0.5 MB each) to a
temporary folder, then times ``deidentify_paths`` (read, de-identify, write each instance) for
each worker count, and the engine alone on parsed datasets. The corpus is written before timing
starts; the page cache is warm, as it is for a corpus just exported from a PACS.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pydicom

from app.demo import PatientSpec, SeriesSpec, StudySpec, study_files
from app.research import Deidentifier, Profile, ProfileOptionValues, deidentify_paths

KEY = b"benchmark-project-key-0123456789"
PER_SERIES = 50


def write_corpus(folder: Path, instances: int) -> int:
    written = 0
    patient = 0
    while written < instances:
        patient += 1
        count = min(PER_SERIES, instances - written)
        spec = StudySpec(
            PatientSpec(f"BENCH-{patient}", f"Bench^Patient{patient}", "19600101", "F"),
            [SeriesSpec("CT", count, 512, 512, "Axial")],
            accession=f"ACC-{patient}",
            referring="Referrer^Bench",
        )
        for data in study_files(spec):
            written += 1
            (folder / f"{written:06d}.dcm").write_bytes(data)
    return written


def time_paths(src: Path, out_root: Path, profile: Profile, workers: int) -> tuple[float, float]:
    """Instances per wall-clock second, and (one worker) per CPU second of this process.

    The CPU figure is what one otherwise idle core sustains; it moves less than wall time when
    other work shares the machine.
    """
    out = out_root / f"out-{workers}-{time.monotonic_ns()}"
    start, cpu = time.perf_counter(), time.process_time()
    report = deidentify_paths([src], out, profile, KEY, workers=workers)
    elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu
    assert report.count("written") == len(report.instances), "every instance must be written"
    shutil.rmtree(out)  # keep the page cache from filling with earlier runs' output
    return len(report.instances) / elapsed, len(report.instances) / cpu_used


def time_engine(src: Path, profile: Profile, limit: int = 200) -> float:
    blobs = [p.read_bytes() for p in sorted(src.iterdir())[:limit]]
    engine = Deidentifier(profile, KEY)
    start = time.perf_counter()
    for data in blobs:
        ds = pydicom.dcmread(io.BytesIO(data))
        engine.deidentify(ds)
        ds.save_as(io.BytesIO(), enforce_file_format=True)
    return len(blobs) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=600)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    profiles = {
        "basic": Profile(),
        "basic+modified-dates+clean-descriptors": Profile(
            frozenset(
                {
                    ProfileOptionValues.RETAIN_LONGITUDINAL_MODIFIED_DATES,
                    ProfileOptionValues.CLEAN_DESCRIPTORS,
                }
            )
        ),
    }
    with tempfile.TemporaryDirectory(prefix="deid-bench-") as tmp:
        src = Path(tmp) / "corpus"
        src.mkdir()
        count = write_corpus(src, args.instances)
        print(f"corpus: {count} CT instances, 512x512, 16-bit, in {src}")
        for name, profile in profiles.items():
            engine = time_engine(src, profile)
            print(f"{name}: engine only (in memory) {engine:.0f} instances/s")
            for workers in args.workers:
                runs = [time_paths(src, Path(tmp), profile, workers) for _ in range(args.repeat)]
                rates = [wall for wall, _ in runs]
                line = (
                    f"{name}: files -> files, {workers} worker(s): median "
                    f"{statistics.median(rates):.0f} instances/s "
                    f"(runs: {', '.join(f'{r:.0f}' for r in rates)})"
                )
                if workers == 1:
                    cpu = statistics.median(c for _, c in runs)
                    line += f"; per CPU second: {cpu:.0f}"
                print(line)


if __name__ == "__main__":
    main()
