"""Blob listings as plain records, and the inventory facts (files and folders) they imply."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

MTIME_KEY = "snakemake_mtime"
# The local file's own mtime, where it differs from the recorded one (an input whose content
# changed gets a newer mtime on the datastore): what the size+mtime skip check compares.
LOCAL_MTIME_KEY = "snakemake_local_mtime"
DIR_MARKER = ".snakemake_timestamp"
# Pages of 5,000 blobs one inventory may list; beyond that, files fall back to requests of
# their own (the folder is then not marked as fully known).
INVENTORY_PAGES = 20


@dataclass(frozen=True)
class BlobEntry:
    name: str
    size: int
    mtime: float
    md5: str | None = None
    etag: str | None = None
    local_mtime: float | None = None  # of the file it was stored from, when not `mtime`

    @property
    def source_mtime(self) -> float:
        """The mtime of the local file this blob was stored from."""
        return self.mtime if self.local_mtime is None else self.local_mtime

    @property
    def checksum(self) -> str | None:
        return f"md5:{self.md5}" if self.md5 else None


def _number(metadata: dict | None, key: str) -> float | None:
    try:
        return float((metadata or {})[key])
    except (KeyError, ValueError):
        return None


def mtime_of(metadata: dict | None, last_modified: datetime | None) -> float:
    """The mtime written on store (sub-second), else the service's Last-Modified."""
    value = _number(metadata, MTIME_KEY)
    if value is not None:
        return value
    return last_modified.timestamp() if last_modified else 0.0


def mtime_metadata(mtime: float, local_mtime: float | None = None) -> dict[str, str]:
    """The blob's mtime, and the local file's own where it differs."""
    metadata = {MTIME_KEY: repr(float(mtime))}
    if local_mtime is not None and local_mtime != mtime:
        metadata[LOCAL_MTIME_KEY] = repr(float(local_mtime))
    return metadata


def entry_from_properties(props) -> BlobEntry:
    """BlobEntry from the SDK's BlobProperties (listing item or HEAD result)."""
    md5 = props.content_settings.content_md5 if props.content_settings else None
    return BlobEntry(
        name=props.name,
        size=props.size or 0,
        mtime=mtime_of(props.metadata, props.last_modified),
        md5=bytes(md5).hex() if md5 else None,
        etag=props.etag,
        local_mtime=_number(props.metadata, LOCAL_MTIME_KEY),
    )


def folders_of(name: str, base: str) -> list[str]:
    """Folders of blob `name` at or below folder `base` ("" is the datastore root)."""
    parts = name.split("/")[:-1]
    folders = [""] + ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return [f for f in folders if not base or f == base or f.startswith(base + "/")]


def inventory_facts(
    entries: Iterable[BlobEntry], base: str
) -> tuple[dict[str, BlobEntry], dict[str, float]]:
    """Files and folders (with their newest mtime) seen in a flat listing under `base`."""
    files: dict[str, BlobEntry] = {}
    folders: dict[str, float] = {}
    for entry in entries:
        files[entry.name] = entry
        for folder in folders_of(entry.name, base):
            folders[folder] = max(folders.get(folder, entry.mtime), entry.mtime)
    return files, folders
