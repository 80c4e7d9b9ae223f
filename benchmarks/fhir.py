"""FHIR ImagingStudy search latency at 20,000 instances / 2,000 studies (docs/benchmarks.md).

Loads a synthetic corpus straight through the archive's ``Ingestor`` (the same path as STOW,
without HTTP), starts the real server on a loopback port and times searches over keep-alive
HTTP: by patient, by Study Instance UID identifier, by accession number, and by patient with
the Endpoint and Patient included. Prints p50/p95/max per query in milliseconds.

    .venv/bin/python benchmarks/fhir.py             # SQLite in a temporary folder
    .venv/bin/python benchmarks/fhir.py --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import sqlalchemy
import uvicorn

# Run as a script, this folder would come first on sys.path and this file would shadow the
# ``fhir`` namespace package of fhir.resources: put the repository root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from app.archive.service import Archive  # noqa: E402 (after the sys.path fix)
from app.config import Settings  # noqa: E402
from app.demo import PatientSpec, SeriesSpec, StudySpec, derived_uid, study_files  # noqa: E402
from app.main import create_app  # noqa: E402

TARGET_P95_MS = 50.0


@contextlib.contextmanager
def database(url: str | None, tmp: Path) -> Iterator[str]:
    """A fresh database: an SQLite file, or a new schema on the given PostgreSQL server."""
    if not url:
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    engine_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(engine_url)
    with admin.begin() as conn:
        conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in engine_url else "?"
    try:
        yield f"{engine_url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def corpus(studies: int, per_study: int, per_patient: int) -> Iterator[StudySpec]:
    rng = random.Random(7)
    for n in range(studies):
        p = n // per_patient
        yield StudySpec(
            PatientSpec(f"BENCH-{p:05d}", f"Bench^Patient{p}", "19700101", "O"),
            [
                SeriesSpec(rng.choice(["CT", "MR"]), per_study // 2, 16, 16),
                SeriesSpec("CT", per_study - per_study // 2, 16, 16),
            ],
            study_uid=derived_uid("bench", n),
            study_date=f"20{10 + n % 15:02d}{1 + n % 12:02d}{1 + n % 28:02d}",
            accession=f"BENCH-ACC-{n:06d}",
            description="Benchmark study",
        )


def load(archive: Archive, specs: list[StudySpec]) -> float:
    start = time.perf_counter()
    for i, spec in enumerate(specs, 1):
        temps = []
        for data in study_files(spec):
            temp = archive.store.new_temp()
            temp.write(data)
            temp.close()
            temps.append(temp)
        results = archive.ingestor.store(temps)
        assert not any(r.failed for r in results), results
        if i % 500 == 0:
            print(f"  loaded {i} studies", flush=True)
    return time.perf_counter() - start


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_queries(client: httpx.Client, urls: list[str]) -> list[float]:
    for url in urls[:10]:  # warm-up
        client.get(url).raise_for_status()
    out = []
    for url in urls:
        t0 = time.perf_counter()
        r = client.get(url)
        out.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    return out


def run(args: argparse.Namespace) -> int:
    tmp_root = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    with (
        tempfile.TemporaryDirectory(dir=tmp_root) as d,
        database(args.database_url, Path(d)) as url,
    ):
        port = free_port()
        settings = Settings(
            data_dir=Path(d) / "data", database_url=url, base_url=f"http://127.0.0.1:{port}"
        )
        specs = list(corpus(args.studies, args.per_study, args.per_patient))
        archive = Archive.open(settings)
        print(f"loading {len(specs)} studies x {args.per_study} instances ...", flush=True)
        seconds = load(archive, specs)
        archive.close()
        print(f"  {len(specs) * args.per_study} instances in {seconds:.1f} s")
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                access_log=False,
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            return measure(settings.base_url + "/fhir", specs, args)
        finally:
            server.should_exit = True
            thread.join(timeout=15)


def measure(fhir: str, specs: list[StudySpec], args: argparse.Namespace) -> int:
    with httpx.Client(timeout=30) as client:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if client.get(f"{fhir}/metadata").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        rng = random.Random(11)
        sample = [rng.choice(specs) for _ in range(args.queries)]
        ids = {}
        for pid in sorted({s.patient.patient_id for s in sample}):
            bundle = client.get(f"{fhir}/Patient", params={"identifier": pid}).json()
            ids[pid] = bundle["entry"][0]["resource"]["id"]
        study = f"{fhir}/ImagingStudy"
        queries = {
            "by patient": [f"{study}?patient={ids[s.patient.patient_id]}" for s in sample],
            "by identifier (Study UID)": [
                f"{study}?identifier=urn:dicom:uid|urn:oid:{s.study_uid}" for s in sample
            ],
            "by identifier (accession)": [f"{study}?identifier={s.accession}" for s in sample],
            "by patient + _include": [
                f"{study}?patient={ids[s.patient.patient_id]}"
                "&_include=ImagingStudy:patient&_include=ImagingStudy:endpoint"
                for s in sample
            ],
        }
        failed = False
        print(f"\n{'query':32} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for name, urls in queries.items():
            ms = time_queries(client, urls)
            p95 = percentile(ms, 0.95)
            print(f"{name:32} {len(ms):5d} {statistics.median(ms):8.1f} {p95:8.1f} {max(ms):8.1f}")
            if name.startswith("by patient") or name.startswith("by identifier"):
                failed = failed or p95 >= TARGET_P95_MS
        print(f"\ntarget p95 < {TARGET_P95_MS:.0f} ms: {'MISSED' if failed else 'met'}")
        return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite)")
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--per-study", type=int, default=10, help="instances per study")
    parser.add_argument("--per-patient", type=int, default=10, help="studies per patient")
    parser.add_argument("--queries", type=int, default=300, help="timed queries per kind")
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
