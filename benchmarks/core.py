"""Archive and DICOMweb core benchmark, with Orthanc in the same run for ratios.

    .venv/bin/python benchmarks/core.py [--db sqlite|postgres] [--workers 2] [--clients 4]

Prints STOW instances/s and MB/s, QIDO p50/p95 at 20,000 instances (2,000 studies), study
metadata latency (100 instances), WADO-RS study retrieve MB/s (curl), and peak RSS growth during
a single 1 GB STOW request, for Image Share and Orthanc. Results also go to benchmarks/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.demo import derived_uid
from benchmarks.corpus import ct_corpus, query_corpus
from benchmarks.orthanc import available as orthanc_available
from benchmarks.orthanc import orthanc, rss_kib
from benchmarks.servers import free_port, imageshare

OUT = Path(__file__).parent / "out"
ACCEPT_ANY = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def multipart_body(paths: list[Path], boundary: str) -> Iterator[bytes]:
    for p in paths:
        yield f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        yield p.read_bytes()
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def stow(client: httpx.Client, url: str, paths: list[Path]) -> None:
    boundary = uuid.uuid4().hex
    r = client.post(
        f"{url}/studies",
        content=multipart_body(paths, boundary),
        headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            "Accept": "application/dicom+json",
        },
    )
    if r.status_code != 200:
        raise RuntimeError(f"STOW answered {r.status_code}: {r.text[:300]}")


def stow_all(url: str, files: list[Path], batch: int, clients: int) -> dict[str, float]:
    batches = [files[i : i + batch] for i in range(0, len(files), batch)]
    size = sum(p.stat().st_size for p in files)
    local = threading.local()

    def send(paths: list[Path]) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=600)
        stow(local.client, url, paths)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, batches))
    elapsed = time.perf_counter() - start
    return {
        "instances": len(files),
        "seconds": round(elapsed, 2),
        "instances_per_s": round(len(files) / elapsed, 1),
        "mb_per_s": round(size / elapsed / 1e6, 1),
    }


def peak_rss_during(pid: int, action: Callable[[], None]) -> dict[str, float]:
    before = rss_kib(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.02)

    t = threading.Thread(target=sample)
    t.start()
    start = time.perf_counter()
    try:
        action()
    finally:
        done.set()
        t.join()
    return {
        "rss_before_mb": round(before / 1024, 1),
        "rss_peak_mb": round(peak[0] / 1024, 1),
        "rss_growth_mb": round((peak[0] - before) / 1024, 1),
        "seconds": round(time.perf_counter() - start, 2),
    }


def latency(
    client: httpx.Client,
    url: str,
    n: int,
    headers: dict[str, str] | None = None,
) -> dict[str, float]:
    for _ in range(5):
        client.get(url, headers=headers)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(url, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
        if r.status_code not in (200, 204):
            raise RuntimeError(f"{url} answered {r.status_code}")
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
    }


def curl_retrieve(url: str, reps: int = 5) -> dict[str, float]:
    rates = []
    for _ in range(reps):
        out = subprocess.run(
            [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-H",
                f"Accept: {ACCEPT_ANY}",
                "-w",
                "%{size_download} %{time_total} %{http_code}",
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        if out[2] != "200":
            raise RuntimeError(f"retrieve answered {out[2]}")
        rates.append(float(out[0]) / float(out[1]) / 1e6)
    return {
        "mb_per_s_median": round(statistics.median(rates), 1),
        "mb_per_s_best": round(max(rates), 1),
        "bytes": int(out[0]),
    }


def qido_suite(url: str, study_uids: list[str], reps: int) -> dict[str, dict[str, float]]:
    client = httpx.Client(timeout=60)
    first = study_uids[5]
    series = client.get(f"{url}/studies/{first}/series").json()
    series_uid = series[0]["0020000E"]["Value"][0]
    queries = {
        "PatientName=SMI*": f"{url}/studies?PatientName=SMI*",
        "PatientID": f"{url}/studies?PatientID=PID00042",
        "StudyDate range (1 year)": f"{url}/studies?StudyDate=20200101-20201231",
        "AccessionNumber": f"{url}/studies?AccessionNumber=ACC001234",
        "ModalitiesInStudy=MR (limit 100)": f"{url}/studies?ModalitiesInStudy=MR&limit=100",
        "series of a study": f"{url}/studies/{first}/series",
        "instances of a series": f"{url}/studies/{first}/series/{series_uid}/instances",
    }
    return {name: latency(client, q, reps) for name, q in queries.items()}


def run_server(
    name: str,
    start: Callable[[], object],
    query: dict[str, object],
    ct_files: list[Path],
    args: argparse.Namespace,
) -> dict[str, object]:
    result: dict[str, object] = {}
    study_uids: list[str] = query["study_uids"]  # type: ignore[assignment]
    print(f"\n== {name} ==", flush=True)
    with start() as (url, pid):  # type: ignore[attr-defined]
        print("  single 1 GB STOW request (peak RSS)...", flush=True)
        client = httpx.Client(timeout=1200)
        result["stow_1gb_single_request"] = peak_rss_during(
            pid, lambda: stow(client, url, ct_files)
        )
        print("   ", result["stow_1gb_single_request"], flush=True)
    with start() as (url, pid):  # type: ignore[attr-defined]
        print(f"  STOW 512² CT, batches of {args.batch}, {args.clients} clients...", flush=True)
        result["stow_ct"] = stow_all(url, ct_files, args.batch, args.clients)
        print("   ", result["stow_ct"], flush=True)
        small = sorted((OUT / "corpus-query").glob("*/*.dcm"))
        print(f"  loading query corpus ({len(small)} instances)...", flush=True)
        result["stow_small"] = stow_all(url, small, 100, args.clients)
        print("   ", result["stow_small"], flush=True)
        result["qido"] = qido_suite(url, study_uids, args.reps)
        for k, v in result["qido"].items():  # type: ignore[attr-defined]
            print(f"    QIDO {k}: {v}", flush=True)
        result["metadata_100"] = latency(
            httpx.Client(timeout=60),
            f"{url}/studies/{study_uids[0]}/metadata",
            args.reps,
            {"Accept": "application/dicom+json"},
        )
        print("    study metadata (100 instances):", result["metadata_100"], flush=True)
        ct_study = json.loads(Path(OUT / "corpus-ct-uids.json").read_text())[0]
        result["retrieve_study"] = curl_retrieve(f"{url}/studies/{ct_study}")
        print("    study retrieve (curl):", result["retrieve_study"], flush=True)
    return result


def ratios(ours: dict, peer: dict) -> dict[str, float]:  # type: ignore[type-arg]
    out = {
        "stow_instances_per_s": ours["stow_ct"]["instances_per_s"]
        / peer["stow_ct"]["instances_per_s"],
        "metadata_p50": ours["metadata_100"]["p50_ms"] / peer["metadata_100"]["p50_ms"],
        "retrieve_mb_per_s": ours["retrieve_study"]["mb_per_s_median"]
        / peer["retrieve_study"]["mb_per_s_median"],
        "stow_1gb_rss_growth": ours["stow_1gb_single_request"]["rss_growth_mb"]
        / max(peer["stow_1gb_single_request"]["rss_growth_mb"], 0.1),
    }
    for k in ours["qido"]:
        out[f"qido_p50 {k}"] = ours["qido"][k]["p50_ms"] / peer["qido"][k]["p50_ms"]
    return {k: round(v, 3) for k, v in out.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--no-orthanc", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    print("preparing corpora (cached in benchmarks/out)...", flush=True)
    query = query_corpus(OUT / "corpus-query", args.studies, 10)
    ct_files = ct_corpus(OUT / "corpus-ct")
    (OUT / "corpus-ct-uids.json").write_text(
        json.dumps([derived_uid("bench-ct", i) for i in range(4)])
    )
    size = sum(p.stat().st_size for p in ct_files)
    print(f"  CT corpus: {len(ct_files)} instances, {size / 1e9:.2f} GB", flush=True)
    results: dict[str, object] = {"args": vars(args), "cpus": os.cpu_count()}
    results["imageshare"] = run_server(
        f"Image Share ({args.db}, {args.workers} workers)",
        lambda: imageshare(args.db, args.workers),
        query,
        ct_files,
        args,
    )
    if not args.no_orthanc and orthanc_available():
        results["orthanc"] = run_server(
            "Orthanc 1.10 + DICOMweb plugin", lambda: _orthanc_with_pid(), query, ct_files, args
        )
        results["ratios_imageshare_over_orthanc"] = ratios(
            results["imageshare"], results["orthanc"]
        )
        print("\nratios (Image Share / Orthanc):")
        for k, v in results["ratios_imageshare_over_orthanc"].items():  # type: ignore[attr-defined]
            print(f"  {k}: {v}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"core-{args.db}-{stamp}.json").write_text(json.dumps(results, indent=2))
    print(f"\nwritten benchmarks/out/core-{args.db}-{stamp}.json")
    return 0


@contextmanager
def _orthanc_with_pid() -> Iterator[tuple[str, int]]:
    with orthanc(free_port(), free_port()) as url:
        pid = int(
            subprocess.run(
                ["pgrep", "-n", "Orthanc"], capture_output=True, text=True
            ).stdout.strip()
        )
        yield url, pid


if __name__ == "__main__":
    raise SystemExit(main())
