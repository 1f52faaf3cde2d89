"""Local input files staged for the datastore.

Under a default storage (the aml profile) Snakemake addresses a local input `data/x.fq.gz` as
`<prefix>/data/x.fq.gz`, where remote jobs will look for it. The workflow stages such files in
its main process. Until they are uploaded the storage reports them with their local size and
mtime, so a dry run plans as if they were there without moving a byte; the run uploads them
before its first job, skipping those the datastore already holds unchanged. `Staging` is
the one owner of these files (the provider's `staging`); the workflow and the executor reach it
through run_storage.RunStorage.
A file whose content differs from its blob is reported, and uploaded, with an mtime of now
(or its own, if newer): what depends on it is out of date whatever its local mtime says (a
file copied in with an old mtime, another reference under the same name).
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .query import BlobLocation, InvalidQuery, make_query, parse_query

if TYPE_CHECKING:
    from .blobstore import Datastore
    from .listing import BlobEntry


class StagingError(ValueError):
    """A local input that cannot be staged (the message names the file)."""


@dataclass(frozen=True)
class LocalFile:
    path: Path
    size: int
    mtime: float
    location: BlobLocation  # where Snakemake's default storage addresses it


def staged_location(prefix: str, path: str) -> BlobLocation:
    """Where Snakemake's default storage puts local `path` (the same address it computes)."""
    relative = os.path.normpath(path)
    if os.path.isabs(relative) or relative.split(os.sep)[0] == "..":
        raise StagingError(
            f"{path} lies outside the working directory: under a default storage its address "
            f"would be {prefix.rstrip('/')}/{relative}, which no datastore path can be. Copy or "
            "link the file into the working directory."
        )
    try:
        return parse_query(f"{prefix.rstrip('/')}/{relative}")
    except InvalidQuery as e:
        raise StagingError(f"{path} cannot be put on the datastore: {e}") from None


class Staging:
    """Staged files by query, uploaded once through `datastore` (name → client). Facts are taken
    when staged: a file edited during the run is uploaded as it is then, and the next run sees
    the change."""

    def __init__(self, datastore: Callable[[str], Datastore]) -> None:
        self.files: dict[str, LocalFile] = {}
        self._mtimes: dict[str, float] = {}  # decided once: planning and upload agree
        self._datastore = datastore
        self._uploaded = False
        self._upload_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.files)

    def add(self, prefix: str, paths: Iterable[str]) -> None:
        for path in paths:
            location = staged_location(prefix, path)
            try:
                stat = os.stat(path)
            except OSError as e:
                raise StagingError(f"cannot stage {path}: {e.strerror}") from None
            self.files[location.query] = LocalFile(
                Path(path), stat.st_size, stat.st_mtime, location
            )

    def get(self, query: str) -> LocalFile | None:
        return self.files.get(query)

    def mtime(self, file: LocalFile, blob: BlobEntry | None) -> float:
        """The mtime of staged `file` on the datastore, given its blob there now (or None):
        its own without a blob; the newer of both when the blob holds its content; else now,
        or its own if newer. Decided at the first question and kept for the run."""
        query = file.location.query
        if query not in self._mtimes:
            from .transfer import holds  # the Azure SDK: only once storage is in use

            if blob is None:
                mtime = file.mtime
            elif holds(blob, file.path, file.size, file.mtime):
                mtime = max(blob.mtime, file.mtime)
            else:
                mtime = max(time.time(), file.mtime)
            self._mtimes[query] = mtime
        return self._mtimes[query]

    def under(self, datastore: str, folder: str) -> list[LocalFile]:
        """The staged files in `folder` of `datastore` ("" is all of it)."""
        head = f"{folder}/" if folder else ""
        return [
            f
            for f in self.files.values()
            if f.location.datastore == datastore and f.location.path.startswith(head)
        ]

    def upload(self) -> None:
        """Upload the staged files once, skipping those already on the datastore unchanged."""
        with self._upload_lock:
            if self._uploaded:
                return
            for name, files in self._by_datastore().items():
                self._datastore(name).sync_files(files, functools.partial(self._blob_mtime, name))
            self._uploaded = True

    def _blob_mtime(self, datastore: str, path: str, blob: BlobEntry | None) -> float:
        return self.mtime(self.files[make_query(datastore, path)], blob)

    def _by_datastore(self) -> dict[str, dict[str, Path]]:
        """{datastore: {blob path: local path}}, what an upload needs."""
        grouped: dict[str, dict[str, Path]] = {}
        for f in self.files.values():
            grouped.setdefault(f.location.datastore, {})[f.location.path] = f.path
        return grouped
