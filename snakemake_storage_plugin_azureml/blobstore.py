"""One datastore's container: the file and folder operations the storage object needs.

Every SDK call runs inside `reported(...)`, so failures surface as clear `WorkflowError`s.
Loaded lazily (it imports the Azure SDK) on the first real storage operation.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from azure.core.exceptions import ResourceNotFoundError
from snakemake_interface_common.exceptions import WorkflowError

from .client import SINGLE_PUT_LIMIT, container_client
from .datastores import DatastoreTarget
from .errors import Redactor, reported
from .listing import DIR_MARKER, BlobEntry, entry_from_properties, mtime_metadata
from .node_cache import NodeCache
from .query import make_query
from .stats import TransferStats
from .transfer import download_file, holds, upload_bytes, upload_file

# The mtime to record for a blob, given what the datastore holds there now (None: nothing).
MtimeOf = Callable[[str, BlobEntry | None], float]


class Datastore:
    def __init__(
        self,
        name: str,
        target: DatastoreTarget,
        stats: TransferStats,
        redact: Redactor,
        max_concurrency: int = 8,
        node_cache: NodeCache | None = None,
    ) -> None:
        self.name = name
        self.target = target
        self.stats = stats
        self.redact = redact
        self.max_concurrency = max(1, max_concurrency)
        self.node_cache = node_cache
        self.client = container_client(target)

    def query(self, path: str) -> str:
        return make_query(self.name, path)

    def _reported(self, action: str):
        return reported(action, self.name, self.target, self.redact)

    # --- reading -------------------------------------------------------------------------

    def _properties(self, path: str):
        try:
            return self.client.get_blob_client(path).get_blob_properties()
        except ResourceNotFoundError as e:
            if e.error_code == "ContainerNotFound":
                raise
            return None

    def stat(self, path: str) -> BlobEntry | None:
        """The blob at `path`, or None (a folder is no blob)."""
        with self._reported(f"cannot read {self.query(path)}"):
            props = self._properties(path)
        return entry_from_properties(props) if props else None

    def list(self, prefix: str, max_pages: int | None = None) -> tuple[list[BlobEntry], bool]:
        """Blobs whose names start with `prefix`, and whether the listing is complete."""
        entries: list[BlobEntry] = []
        with self._reported(f"cannot list {self.query(prefix)}"):
            pages = self.client.list_blobs(name_starts_with=prefix or None, include=["metadata"])
            for count, page in enumerate(pages.by_page(), start=1):
                entries.extend(entry_from_properties(p) for p in page)
                if max_pages and count >= max_pages:
                    return entries, pages.continuation_token is None
        return entries, True

    def folder(self, path: str) -> list[BlobEntry]:
        """All blobs below folder `path` ("" is the datastore root)."""
        return self.list(f"{path}/" if path else "")[0]

    def is_folder(self, path: str) -> bool:
        with self._reported(f"cannot list {self.query(path)}/"):
            blobs = self.client.list_blobs(name_starts_with=f"{path}/", results_per_page=1)
            return next(iter(blobs), None) is not None

    # --- writing -------------------------------------------------------------------------

    def store_file(
        self,
        local: Path,
        path: str,
        remote: BlobEntry | None = None,
        listed: bool = False,
        mtime_of: MtimeOf | None = None,
    ) -> None:
        """Upload unless the blob already holds this content (`transfer.holds`; then only
        align the recorded mtimes). The blob records `mtime_of(path, remote)` as its mtime
        (default: the local file's) and the local file's own beside it.

        `remote` is the blob as a listing saw it; with `listed`, None means it does not exist.
        """
        stat = local.stat()
        with self._reported(f"cannot store {local} as {self.query(path)}"):
            if remote is None and not listed:
                remote = self.stat(path)
            mtime = mtime_of(path, remote) if mtime_of else stat.st_mtime
            blob = self.client.get_blob_client(path)
            if holds(remote, local, stat.st_size, stat.st_mtime):
                self.stats.add(skipped_uploads=1)
                if (remote.mtime, remote.source_mtime) != (mtime, stat.st_mtime):
                    blob.set_blob_metadata(mtime_metadata(mtime, stat.st_mtime))
                return
            workers = self.max_concurrency if stat.st_size > SINGLE_PUT_LIMIT else 1
            upload_file(blob, local, mtime_metadata(mtime, stat.st_mtime), workers)
        self.stats.add(uploaded_bytes=stat.st_size)

    def store_folder(self, local: Path, path: str) -> None:
        """Make folder `path` hold exactly the files of `local` (stale blobs are deleted)."""
        files = {p.relative_to(local).as_posix(): p for p in local.rglob("*") if p.is_file()}
        existing = {e.name: e for e in self.folder(path)}
        if files:
            names = {f"{path}/{rel}": p for rel, p in files.items()}
            self.store_files(names, existing)
        else:
            marker = f"{path}/{DIR_MARKER}"
            with self._reported(f"cannot store empty folder {local} as {self.query(path)}"):
                marker_mtime = mtime_metadata(local.stat().st_mtime)
                upload_bytes(self.client.get_blob_client(marker), b"", marker_mtime)
            names = {marker: local}
        stale = sorted(set(existing) - set(names))
        if self.stat(path):
            stale.append(path)
        self.delete(stale)

    def store_files(
        self,
        names: dict[str, Path],
        existing: dict[str, BlobEntry],
        mtime_of: MtimeOf | None = None,
    ) -> None:
        """Store local files under blob names; `existing` is a listing covering all names."""
        self._run_all(
            lambda name: self.store_file(
                names[name], name, existing.get(name), listed=True, mtime_of=mtime_of
            ),
            sorted(names),
            lambda name: names[name].stat().st_size,
        )

    def sync_files(self, names: dict[str, Path], mtime_of: MtimeOf | None = None) -> None:
        """Store local files under blob names, with one listing of their common folder."""
        if not names:
            return
        folder = posixpath.commonpath([posixpath.dirname(n) for n in names])
        existing = {e.name: e for e in self.folder(folder)}
        self.store_files(names, existing, mtime_of)

    def delete(self, names: list[str]) -> None:
        def delete_one(name: str) -> None:
            with self._reported(f"cannot delete {self.query(name)}"):
                try:
                    self.client.delete_blob(name)
                except ResourceNotFoundError as e:
                    if e.error_code == "ContainerNotFound":
                        raise

        self._run_all(delete_one, names)

    def remove(self, path: str) -> None:
        """Delete the blob `path` and/or everything in folder `path`."""
        names = [e.name for e in self.folder(path)]
        if self.stat(path):
            names.append(path)
        self.delete(names)

    def touch(self, path: str) -> None:
        """Set the mtime to now: metadata of a blob, or a fresh marker blob in a folder."""
        now = time.time()
        with self._reported(f"cannot touch {self.query(path)}"):
            props = self._properties(path)
            if props is not None:
                metadata = {**(props.metadata or {}), **mtime_metadata(now)}
                self.client.get_blob_client(path).set_blob_metadata(metadata)
                return
        if not self.is_folder(path):
            raise WorkflowError(f"cannot touch {self.query(path)}: it does not exist")
        with self._reported(f"cannot touch folder {self.query(path)}"):
            upload_bytes(
                self.client.get_blob_client(f"{path}/{DIR_MARKER}"), b"", mtime_metadata(now)
            )

    # --- retrieving ----------------------------------------------------------------------

    def retrieve_file(self, entry: BlobEntry, local: Path) -> None:
        """Download the blob version `entry` to `local`, through the node cache if it takes it."""
        if self.node_cache and self.node_cache.accepts(entry):
            key = f"{self.target.container_url}/{entry.name}"
            self.node_cache.retrieve(key, entry, local, lambda to: self._download(entry, to))
        else:
            self._download(entry, local)

    def _download(self, entry: BlobEntry, local: Path) -> None:
        workers = self.max_concurrency if entry.size > SINGLE_PUT_LIMIT else 1
        with self._reported(f"cannot retrieve {self.query(entry.name)} to {local}"):
            download_file(self.client.get_blob_client(entry.name), local, entry, workers)
        self.stats.add(downloaded_bytes=entry.size)

    def retrieve_folder(self, path: str, local: Path) -> None:
        """Download folder `path` into a temporary sibling, then swap it in for `local`."""
        entries = {e.name: e for e in self.folder(path)}
        if not entries:
            raise WorkflowError(f"folder {self.query(path)} is empty or missing")
        partial = local.parent / f".{local.name}.partial-{uuid.uuid4().hex[:8]}"
        try:
            self._run_all(
                lambda name: self.retrieve_file(entries[name], partial / name[len(path) + 1 :]),
                sorted(entries),
                lambda name: entries[name].size,
            )
            if local.is_dir() and not local.is_symlink():
                shutil.rmtree(local)
            elif local.exists() or local.is_symlink():
                local.unlink()
            os.replace(partial, local)
        finally:
            shutil.rmtree(partial, ignore_errors=True)

    def _run_all(self, func, names: list[str], size=lambda name: 0) -> None:
        """Small items in parallel (one connection each), big ones in turn (all connections)."""
        small = [n for n in names if size(n) <= SINGLE_PUT_LIMIT]
        if len(small) > 1:
            with ThreadPoolExecutor(min(self.max_concurrency, len(small))) as pool:
                for future in [pool.submit(func, n) for n in small]:
                    future.result()
        else:
            for name in small:
                func(name)
        for name in names:
            if size(name) > SINGLE_PUT_LIMIT:
                func(name)
