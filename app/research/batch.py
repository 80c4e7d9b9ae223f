"""De-identify files, folders and zip files into a folder of research copies, with a report.

Output files are named only by their new UIDs (``<study>/<series>/<instance>.dcm``), so no
original identifier reaches the research copy through a path. Quarantined and failed instances
are never written. Work is spread over processes; pseudonyms are pure functions of the project
key, so every process derives the same UIDs and offsets.
"""

from __future__ import annotations

import io
import logging
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.uid import MediaStorageDirectoryStorage

from app.archive.importer import Source, find_sources
from app.research.annex_e import load_table
from app.research.deidentify import Deidentifier
from app.research.profile import Profile
from app.research.report import InstanceReport, RunReport

logger = logging.getLogger(__name__)
BATCH = 32


def sources(paths: Iterable[Path]) -> list[Source]:
    """Every candidate file under ``paths`` (zip members included); FileNotFoundError if absent."""
    return list(find_sources(paths))


def _read(source: Source, zips: dict[str, zipfile.ZipFile]) -> bytes:
    """A file's bytes, or a zip member's; each zip is opened once per chunk, not per member."""
    path, member = source
    if member is None:
        return Path(path).read_bytes()
    if path not in zips:
        zips[path] = zipfile.ZipFile(path)
    return zips[path].read(member)


def _label(source: Source) -> str:
    path, member = source
    return path if member is None else f"{path}!{member}"


def deidentify_one(engine: Deidentifier, data: bytes, out_dir: Path) -> InstanceReport:
    """Parse, de-identify and write one instance; every failure becomes a reason."""
    try:
        ds = pydicom.dcmread(io.BytesIO(data))
    except (InvalidDicomError, EOFError, ValueError, TypeError) as exc:
        return InstanceReport("", "failed", f"not a readable DICOM file: {exc}")
    meta = getattr(ds, "file_meta", None)
    meta_class = meta.get("MediaStorageSOPClassUID", "") if meta is not None else ""
    if meta_class == MediaStorageDirectoryStorage:
        return InstanceReport("", "failed", "DICOMDIR is not copied: it indexes the originals")
    if "SOPClassUID" not in ds or "SOPInstanceUID" not in ds:
        return InstanceReport("", "failed", "no SOP Class UID or SOP Instance UID")
    outcome = engine.deidentify(ds)
    report = InstanceReport("", outcome.status, outcome.reason, actions=dict(outcome.counts))
    if outcome.dataset is None:
        return report
    target = out_dir / str(ds.StudyInstanceUID) / str(ds.SeriesInstanceUID)
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{ds.SOPInstanceUID}.dcm"
    temp = path.with_suffix(".part")
    ds.save_as(temp, enforce_file_format=True)
    os.replace(temp, path)
    report.output = str(path.relative_to(out_dir))
    return report


def _process(engine: Deidentifier, chunk: list[Source], out_dir: Path) -> list[InstanceReport]:
    reports = []
    zips: dict[str, zipfile.ZipFile] = {}
    try:
        for source in chunk:
            try:
                item = deidentify_one(engine, _read(source, zips), out_dir)
            except Exception as exc:  # one bad instance never stops the run
                logger.warning("de-identification failed for one instance: %s", type(exc).__name__)
                item = InstanceReport("", "failed", f"{type(exc).__name__}: {exc}")
            item.source = _label(source)
            reports.append(item)
    finally:
        for zf in zips.values():
            zf.close()
    return reports


_worker: tuple[Deidentifier, Path] | None = None


def _init_worker(profile: Profile, key: bytes, out_dir: Path) -> None:
    global _worker
    _worker = (Deidentifier(profile, key), out_dir)


def _work(chunk: list[Source]) -> list[InstanceReport]:
    assert _worker is not None
    return _process(_worker[0], chunk, _worker[1])


def _chunks(items: list[Source]) -> Iterator[list[Source]]:
    for i in range(0, len(items), BATCH):
        yield items[i : i + BATCH]


def deidentify_paths(
    paths: Iterable[Path],
    out_dir: Path,
    profile: Profile,
    key: bytes,
    *,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> RunReport:
    """The library entry point: de-identify everything under ``paths`` into ``out_dir``."""
    found = sources(paths)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = RunReport([c.meaning for c in profile.codes], load_table().sources)
    chunks = list(_chunks(found))
    if workers <= 1:
        engine = Deidentifier(profile, key)
        results: Iterable[list[InstanceReport]] = (_process(engine, c, out_dir) for c in chunks)
        return _collect(report, results, progress)
    init = (profile, key, out_dir)
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=init) as pool:
        return _collect(report, pool.map(_work, chunks), progress)


def _collect(
    report: RunReport,
    results: Iterable[list[InstanceReport]],
    progress: Callable[[int], None] | None,
) -> RunReport:
    seen: set[str] = set()
    for chunk in results:
        for item in chunk:
            if item.output and item.output in seen:
                item.reason = "same SOP Instance UID as an earlier input, which it replaced"
            seen.add(item.output)
            report.add(item)
        if progress is not None:
            progress(len(chunk))
    return report
