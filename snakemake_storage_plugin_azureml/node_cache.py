"""A node-local cache of retrieved blobs: a big read-only input (a BWA index, a reference)
reaches a node once, however many jobs or parallel-step workers on the node read it.

An entry is `<root>/<sha256 of account/container/blob>/<ETag>-<size>`: new content at the same
path has a new ETag, so it is a miss and never served stale (the download itself is pinned to
that ETag with If-Match). A miss downloads into a temporary file beside the entry (verified by
`transfer.download_file`) and renames it into place, holding the entry's lock, so workers that
want the same blob at once download it once. The entry is made read-only (0444) and hard-linked
to the job's local path (copied when the link fails, e.g. across file systems). Entries are
evicted least recently used first while the cache is above its cap; an entry whose lock is
held (being downloaded or linked) is skipped. Older ETags of a blob go first: nobody can hit
them again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .listing import BlobEntry
from .stats import TransferStats

# Azure Batch: "a read/write directory shared by all tasks on the node" (Azure ML compute
# clusters are Batch pools). Used first; the explicit setting only where it is not set.
BATCH_SHARED_DIR_ENV = "AZ_BATCH_NODE_SHARED_DIR"
CACHE_FOLDER = "snakemake-azureml-cache"
EVICT_LOCK = ".evict.lock"
LOCK_SUFFIX = ".lock"
PARTIAL_MARK = ".partial-"
READ_ONLY = 0o444


def cache_root(environ: Mapping[str, str], setting: str | None) -> Path | None:
    """Where the cache lives on this node: the Batch shared directory, else the setting,
    else nowhere (every retrieval downloads)."""
    shared = environ.get(BATCH_SHARED_DIR_ENV)
    if shared:
        return Path(shared) / CACHE_FOLDER
    return Path(setting) if setting else None


@dataclass(frozen=True)
class _Entry:
    path: Path
    size: int
    last_use: float


class NodeCache:
    def __init__(self, root: Path, max_bytes: int, min_bytes: int, stats: TransferStats) -> None:
        self.root, self.max_bytes, self.min_bytes, self.stats = root, max_bytes, min_bytes, stats

    def accepts(self, entry: BlobEntry) -> bool:
        """Cached: blobs with an ETag, at least `min_bytes` and fitting the cap at all."""
        return bool(entry.etag) and self.min_bytes <= entry.size <= self.max_bytes

    def retrieve(
        self, key: str, entry: BlobEntry, dest: Path, download: Callable[[Path], None]
    ) -> None:
        """Make `dest` hold the blob version `entry` (of blob `key`), from the cache or by
        `download(path)` into it (which writes `path` atomically)."""
        cached = self.root / _digest(key) / f"{_safe(entry.etag or '')}-{entry.size}"
        with _locked(_lock_of(cached)):
            missed = not cached.exists()
            if missed:
                download(cached)
                cached.chmod(READ_ONLY)
                self.stats.add(cache_misses=1)
            else:
                self.stats.add(cache_hits=1, cached_bytes=entry.size)
            _link_or_copy(cached, dest)
            os.utime(_lock_of(cached))  # the entry's last use, for the LRU order
        if missed:  # only a new entry can take the cache past its cap
            self.evict(keep=cached)

    def evict(self, keep: Path | None = None) -> None:
        """Drop entries until the cache is within its cap: other versions of `keep`'s blob
        first, then least recently used; entries in use (locked) stay."""
        with _locked(self.root / EVICT_LOCK):
            entries = self._entries()
            total = sum(e.size for e in entries)

            def order(e: _Entry) -> tuple[bool, float]:
                return (keep is None or e.path.parent != keep.parent, e.last_use)

            for e in sorted(entries, key=order):
                stale = keep is not None and e.path.parent == keep.parent
                if e.path == keep or (total <= self.max_bytes and not stale):
                    continue
                with _locked(_lock_of(e.path), blocking=False) as fd:
                    if fd is None:
                        continue  # being downloaded or linked
                    e.path.unlink(missing_ok=True)
                    _lock_of(e.path).unlink(missing_ok=True)
                total -= e.size
                self.stats.add(cache_evictions=1)
                with contextlib.suppress(OSError):  # not empty: other versions stay
                    e.path.parent.rmdir()

    def _entries(self) -> list[_Entry]:
        found = []
        for path in self.root.glob("*/*"):
            name = path.name
            if name.endswith(LOCK_SUFFIX) or name.startswith("."):
                continue
            with contextlib.suppress(FileNotFoundError):
                lock = _lock_of(path)
                last_use = lock.stat().st_mtime if lock.exists() else 0.0
                found.append(_Entry(path, path.stat().st_size, last_use))
        return found


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def _safe(etag: str) -> str:
    """An ETag as a file name ("0x8DC..." quoted by the service)."""
    return re.sub(r"[^A-Za-z0-9_-]", "", etag) or "none"


def _lock_of(cached: Path) -> Path:
    return cached.with_name(cached.name + LOCK_SUFFIX)


@contextlib.contextmanager
def _locked(path: Path, blocking: bool = True) -> Iterator[int | None]:
    """An exclusive flock on `path` (created as needed); None when not `blocking` and busy.

    The lock file may be removed by an evictor holding it: a lock won on a file no longer at
    `path` is dropped and taken again on the new one.
    """
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except (FileNotFoundError, FileExistsError):  # an evictor removed the folder meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            yield None
            return
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield fd
    finally:
        os.close(fd)


def _link_or_copy(cached: Path, dest: Path) -> None:
    """Put `cached` at `dest` atomically: a hard link, or a copy where links cannot go."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    temp = dest.parent / f".{dest.name}.cached-{uuid.uuid4().hex[:8]}"
    try:
        try:
            os.link(cached, temp)
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
            shutil.copy2(cached, temp)
        os.replace(temp, dest)
    finally:
        temp.unlink(missing_ok=True)
