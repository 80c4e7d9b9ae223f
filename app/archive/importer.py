"""Bulk import of an existing archive: files, folders (recursive) and zip files, in parallel.

Each worker process opens its own archive connection and stores batches of files through the
same ingest as STOW-RS; non-DICOM files are skipped by their missing ``DICM`` prefix.
"""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from app.archive.status import StoreOutcomeValues
from app.config import Settings

BATCH = 32
Source = tuple[str, str | None]  # (file path, zip member or None)


@dataclass
class ImportSummary:
    stored: int = 0
    duplicate: int = 0
    replaced: int = 0
    rejected: int = 0
    skipped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, other: ImportSummary) -> None:
        self.stored += other.stored
        self.duplicate += other.duplicate
        self.replaced += other.replaced
        self.rejected += other.rejected
        self.skipped += other.skipped
        self.reasons.update(other.reasons)

    @property
    def total(self) -> int:
        return self.stored + self.duplicate + self.replaced + self.rejected + self.skipped


def find_sources(paths: Iterable[Path]) -> Iterator[Source]:
    """Every candidate file under the given paths; zip files are opened, not stored."""
    for path in paths:
        if path.is_dir():
            for dirpath, _dirs, files in os.walk(path):
                for name in sorted(files):
                    yield from _expand(Path(dirpath) / name)
        elif path.is_file():
            yield from _expand(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")


def _expand(path: Path) -> Iterator[Source]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    yield str(path), info.filename
    else:
        yield str(path), None


def _open(source: Source) -> object:
    path, member = source
    if member is None:
        return open(path, "rb")
    zf = zipfile.ZipFile(path)
    return zf.open(member)


_worker_archive = None


def _init_worker(settings: Settings) -> None:
    global _worker_archive
    from app.archive.service import Archive

    _worker_archive = Archive.open(settings, run_migrations=False)


def import_batch(sources: list[Source]) -> ImportSummary:
    """Store one batch in this process's archive."""
    assert _worker_archive is not None
    archive = _worker_archive
    summary = ImportSummary()
    temps = []
    for source in sources:
        with _open(source) as fh:
            head = fh.read(132)
            if len(head) < 132 or head[128:132] != b"DICM":
                summary.skipped += 1
                continue
            temp = archive.store.new_temp()
            temp.write(head)
            while chunk := fh.read(1 << 20):
                temp.write(chunk)
            temp.close()
            temps.append(temp)
    for result in archive.ingestor.store(temps):
        if result.failed:
            summary.rejected += 1
            summary.reasons[f"0x{int(result.status):04X} {result.reason}"] += 1
        elif result.outcome == StoreOutcomeValues.DUPLICATE:
            summary.duplicate += 1
        elif result.outcome == StoreOutcomeValues.REPLACED:
            summary.replaced += 1
        else:
            summary.stored += 1
    return summary


def run_import(
    settings: Settings, paths: list[Path], workers: int, progress: Callable[[int], None]
) -> ImportSummary:
    """Import everything under ``paths``; ``progress(n)`` is called as batches finish."""
    from app.archive.service import Archive

    Archive.open(settings).close()  # migrate once, before the workers start
    sources = list(find_sources(paths))
    batches = [sources[i : i + BATCH] for i in range(0, len(sources), BATCH)]
    total = ImportSummary()
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(settings,)
    ) as pool:
        for batch, summary in zip(batches, pool.map(import_batch, batches), strict=True):
            total.add(summary)
            progress(len(batch))
    return total


def count_sources(paths: list[Path]) -> int:
    return sum(1 for _ in find_sources(paths))
