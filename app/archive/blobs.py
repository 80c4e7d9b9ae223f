"""Blob store: where instance bytes live.

Writes are crash safe: bytes go to a temporary file in the store's own ``tmp`` folder, are made
durable (``fdatasync``), then renamed into place and the directory entry is fsynced. Only then
does the caller commit index rows, so an index row never points to a missing blob; a crash leaves
at most an unreferenced file that ``sweep`` removes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 4 * 1024 * 1024
#: fdatasync releases the GIL: a few threads let the disk flush several blobs at once.
_SYNC_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="blob-sync")


@dataclass
class TempBlob:
    """A file being written; hashes and counts bytes as they arrive."""

    path: Path
    size: int = 0
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256)
    _fh: BinaryIO | None = None
    _sync: Future[None] | None = None

    def write(self, data: bytes) -> None:
        if self._fh is None:
            self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._fh.write(data)
        self._hash.update(data)
        self.size += len(data)

    def close(self) -> None:
        """Finish writing and start making the bytes durable in the background.

        The flush overlaps with receiving and parsing the rest of the request; ``commit``
        waits for it (see ``wait_durable``).
        """
        if self._fh is None:
            self._fh = open(self.path, "wb")  # noqa: SIM115 - an empty part is still a file
        self._fh.close()
        self._sync = _SYNC_POOL.submit(_fdatasync_if_present, self.path)

    def wait_durable(self) -> None:
        """Block until this blob's data is on disk."""
        if self._sync is not None:
            self._sync.result()
        else:
            _fdatasync(self.path)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def discard(self) -> None:
        if self._fh is not None and not self._fh.closed:
            self._fh.close()
        self.path.unlink(missing_ok=True)


class BlobStore(Protocol):
    """What the archive needs from storage; a local folder or an object store."""

    def new_temp(self) -> TempBlob: ...
    def commit(self, items: Iterable[tuple[TempBlob, str]]) -> None: ...
    def open(self, key: str) -> BinaryIO: ...
    def path(self, key: str) -> Path: ...
    def size(self, key: str) -> int: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def iter_blobs(self) -> Iterator[tuple[str, float]]: ...
    def check(self) -> None: ...


class LocalBlobStore:
    """Blobs as files under ``root``; temporary files under ``tmp`` on the same filesystem."""

    def __init__(self, root: Path, tmp: Path) -> None:
        self.root = root
        self.tmp = tmp
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def new_temp(self) -> TempBlob:
        return TempBlob(self.tmp / f"{uuid.uuid4().hex}.part")

    def commit(self, items: Iterable[tuple[TempBlob, str]]) -> None:
        """Make every temp blob durable, move it to its key and sync the directories.

        All data is synced first and each touched directory once, which costs far less than a
        full sync per file (see docs/benchmarks.md).
        """
        items = list(items)
        for temp, _key in items:
            temp.wait_durable()
        dirs: set[Path] = set()
        for temp, key in items:
            target = self.path(key)
            if not target.parent.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                dirs.update(_new_parents(target.parent, self.root))
            os.replace(temp.path, target)
            dirs.add(target.parent)
        for d in dirs:
            _fsync_dir(d)

    def open(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")

    def path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"unsafe blob key {key!r}")
        return self.root / key

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def iter_blobs(self) -> Iterator[tuple[str, float]]:
        """Every stored key with its modification time."""
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                p = Path(dirpath) / name
                yield p.relative_to(self.root).as_posix(), p.stat().st_mtime

    def check(self) -> None:
        """Raise OSError if the store cannot be written."""
        probe = self.tmp / f".ready-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()


def _fdatasync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def _fdatasync_if_present(path: Path) -> None:
    """Background flush of a temp blob; it may be discarded (unlinked) meanwhile."""
    with contextlib.suppress(FileNotFoundError):
        _fdatasync(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_parents(d: Path, root: Path) -> set[Path]:
    """The parents of a new directory up to the root: their entries changed too."""
    out = set()
    while d != root and root in d.parents:
        out.add(d.parent)
        d = d.parent
    return out
