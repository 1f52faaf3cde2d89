"""A file or folder on a datastore, as Snakemake sees it."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_storage_plugins.io import (
    IOCacheStorageInterface,
    Mtime,
    get_constant_prefix,
)
from snakemake_interface_storage_plugins.storage_object import (
    StorageObjectGlob,
    StorageObjectRead,
    StorageObjectTouch,
    StorageObjectWrite,
)

from .listing import INVENTORY_PAGES, inventory_facts
from .query import SCHEME, InvalidQuery, make_query, parse_query, query_problem

if TYPE_CHECKING:
    from .blobstore import Datastore
    from .listing import BlobEntry
    from .staging import LocalFile


class StorageObject(StorageObjectRead, StorageObjectWrite, StorageObjectGlob, StorageObjectTouch):
    def __post_init__(self) -> None:
        # Snakemake builds objects before validating their query; fail on use, not here.
        try:
            self.location = parse_query(self.query)
        except InvalidQuery:
            self.location = None

    # --- naming --------------------------------------------------------------------------

    @property
    def _loc(self):
        if self.location is None:
            raise WorkflowError(
                f"invalid azureml query {self.query!r}: {query_problem(self.query)}"
            )
        return self.location

    @property
    def _store(self) -> Datastore:
        return self.provider.datastore(self._loc.datastore)

    def _suffix(self, path: str) -> str:
        return f"{self._loc.datastore}/{path}" if path else self._loc.datastore

    def local_suffix(self) -> str:
        return self._suffix(self._loc.path)

    def get_inventory_parent(self) -> str | None:
        if self._overwrite_local_path is not None or self.location is None:
            return None
        loc = self.location
        return _inventory_key(self.provider.local_prefix, loc.datastore, loc.inventory_root)

    def cleanup(self) -> None:
        """Nothing to release: clients are shared per datastore by the provider."""

    # --- inventory: one flat listing of the top-level folder feeds exists/mtime/size -------

    async def inventory(self, cache: IOCacheStorageInterface) -> None:
        parent_key = self.get_inventory_parent()
        done = getattr(cache.exists_in_storage, "has_inventory", None)
        if parent_key is None or parent_key in self.provider.inventoried:
            return
        if done is not None and parent_key in done:
            return
        self.provider.inventoried.add(parent_key)
        folder = self._loc.inventory_root
        prefix = f"{folder}/" if folder else ""
        entries, complete = self._store.list(prefix, max_pages=INVENTORY_PAGES)
        files, folders = inventory_facts(entries, folder)
        for path, mtime in folders.items():
            key = self.cache_key(self._suffix(path))
            cache.exists_in_storage[key] = True
            cache.mtime[key] = Mtime(storage=mtime)
            cache.size[key] = 0
            if complete and done is not None:
                done.add(key)
        for path, entry in files.items():
            key = self.cache_key(self._suffix(path))
            cache.exists_in_storage[key] = True
            cache.mtime[key] = Mtime(storage=entry.mtime)
            cache.size[key] = entry.size
            if entry.checksum:
                cache.checksum[key] = entry.checksum
        for local in self.provider.staging.under(self._loc.datastore, folder):
            path = local.location.path
            key = self.cache_key(self._suffix(path))
            blob = files.get(path) if complete or path in files else self._store.stat(path)
            cache.exists_in_storage[key] = True
            cache.mtime[key] = Mtime(storage=self.provider.staging.mtime(local, blob))
            cache.size[key] = local.size
            cache.checksum.pop(key, None)
        if complete and done is not None:
            done.add(parent_key)

    # --- reading -------------------------------------------------------------------------

    def _staged(self) -> LocalFile | None:
        """A local input the run uploads before its first job (see staging.py)."""
        return self.provider.staging.get(self._loc.query)

    def _blob(self) -> BlobEntry | None:
        return self._store.stat(self._loc.path)

    def _folder_entries(self) -> list[BlobEntry]:
        entries = self._store.folder(self._loc.path)
        if not entries:
            raise WorkflowError(f"{self.query} does not exist")
        return entries

    def exists(self) -> bool:
        if self._staged():
            return True
        return self._blob() is not None or self._store.is_folder(self._loc.path)

    def mtime(self) -> float:
        staged = self._staged()
        if staged:
            return self.provider.staging.mtime(staged, self._blob())
        blob = self._blob()
        return blob.mtime if blob else max(e.mtime for e in self._folder_entries())

    def size(self) -> int:
        staged = self._staged()
        if staged:
            return staged.size
        blob = self._blob()
        if blob:
            return blob.size
        self._folder_entries()
        return 0

    def local_footprint(self) -> int:
        staged = self._staged()
        if staged:  # retrieve_object uploads it first, then downloads this size
            return staged.size
        blob = self._blob()
        return blob.size if blob else sum(e.size for e in self._folder_entries())

    def checksum(self) -> str | None:
        if self._staged():  # the blob, if any, may still hold older content
            return None
        blob = self._blob()
        return blob.checksum if blob else None

    def retrieve_object(self) -> None:
        if self._staged():  # a job of this process needs it before any executor uploaded it
            self.provider.staging.upload()
        blob = self._blob()
        if blob:
            self._store.retrieve_file(blob, self.local_path())
        else:
            self._store.retrieve_folder(self._loc.path, self.local_path())

    # --- writing -------------------------------------------------------------------------

    def store_object(self) -> None:
        local = self.local_path()
        if local.is_dir():
            self._store.store_folder(local, self._loc.path)
        elif local.exists():
            self._store.store_file(local, self._loc.path)
        else:
            raise WorkflowError(f"cannot store {self.query}: {local} does not exist")

    def remove(self) -> None:
        self._store.remove(self._loc.path)

    def touch(self) -> None:
        self._store.touch(self._loc.path)

    def list_candidate_matches(self) -> Iterable[str]:
        prefix = get_constant_prefix(self.query)
        head = f"{SCHEME}datastores/{self._loc.datastore}/paths/"
        if not prefix.startswith(head):
            raise WorkflowError(f"{self.query}: wildcards are not allowed in the datastore name")
        entries, _ = self._store.list(prefix[len(head) :])
        return [make_query(self._loc.datastore, e.name) for e in entries]


@functools.lru_cache(maxsize=256)
def _inventory_key(local_prefix: Path, datastore: str, root: str) -> str:
    """cache_key() of an inventory root: Snakemake asks every file for it, and they share few."""
    return str(local_prefix / (f"{datastore}/{root}" if root else datastore))
