"""Remove leftovers of interrupted writes: temp files and blobs no index row references."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.archive.blobs import BlobStore
from app.archive.models import Instance

logger = logging.getLogger(__name__)


def clear_temp(tmp_dir: Path, older_than_s: float = 3600) -> int:
    """Delete temp files older than ``older_than_s`` (in-flight uploads are younger)."""
    removed = 0
    cutoff = time.time() - older_than_s
    for p in tmp_dir.glob("*.part"):
        try:
            if p.stat().st_mtime < cutoff:
                p.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def sweep_orphans(engine: Engine, store: BlobStore, older_than_s: float = 600) -> int:
    """Delete blobs that no instance row points to and that are older than ``older_than_s``.

    The age guard leaves alone blobs of a store request that is about to commit.
    """
    with Session(engine) as s:
        referenced = set(s.execute(select(Instance.blob_key)).scalars())
    cutoff = time.time() - older_than_s
    removed = 0
    for key, mtime in store.iter_blobs():
        if key not in referenced and mtime < cutoff:
            store.delete(key)
            removed += 1
    if removed:
        logger.info("sweep removed %d unreferenced blobs", removed)
    return removed
