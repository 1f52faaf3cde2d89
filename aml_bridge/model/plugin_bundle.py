"""This project's storage plugin, shipped to every job as a read-only input folder.

Remote jobs run `python -m snakemake` on the azureml default storage, so they need the
`snakemake_storage_plugin_azureml` package, which is not on PyPI. Snakemake finds plugins as
top-level modules on sys.path, so a folder holding the package, put on PYTHONPATH, is enough.
The folder is named by the hash of the package's sources: each version is uploaded once, and
jobs always run the plugin code of the Snakemake process that submitted them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import snakemake_storage_plugin_azureml
from snakemake_storage_plugin_azureml.query import BlobLocation, parse_query

if TYPE_CHECKING:
    from snakemake_storage_plugin_azureml.blobstore import Datastore

PACKAGE_DIR = Path(snakemake_storage_plugin_azureml.__file__).parent
BUNDLES = ".snakemake/aml/plugins"
# The folder is content-addressed, so its files may carry one fixed mtime: a republish then
# finds every blob equal in size, MD5 and mtime, and writes nothing.
FIXED_MTIME = 0.0


@dataclass(frozen=True)
class PluginBundle:
    files: dict[str, bytes]  # path below the folder (`<package>/<module>.py`) → content
    folder: BlobLocation  # <prefix path>/.snakemake/aml/plugins/<digest>

    @property
    def uri(self) -> str:
        """The job input's path (Azure ML folder URIs end with '/')."""
        return f"{self.folder.query}/"


def package_files(package_dir: Path = PACKAGE_DIR) -> dict[str, bytes]:
    """The package's `.py` files, keyed by their path relative to the package's parent."""
    return {
        p.relative_to(package_dir.parent).as_posix(): p.read_bytes()
        for p in sorted(package_dir.rglob("*.py"))
    }


def digest(files: dict[str, bytes]) -> str:
    """sha256 over the sorted paths and contents (lengths included, so no two sets collide)."""
    h = hashlib.sha256()
    for path in sorted(files):
        data = files[path]
        h.update(f"{path}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()[:16]


def plugin_bundle(prefix: str, files: dict[str, bytes]) -> PluginBundle:
    """The bundle of `files` below the default storage prefix (`azureml://datastores/...`)."""
    base = parse_query(prefix.rstrip("/"))
    return PluginBundle(
        files, BlobLocation(base.datastore, f"{base.path}/{BUNDLES}/{digest(files)}")
    )


def publish(bundle: PluginBundle, datastore: Datastore) -> None:
    """Upload the files the bundle's folder lacks (none once it was published)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in bundle.files.items():
            path = Path(tmp, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.utime(path, (FIXED_MTIME, FIXED_MTIME))
        datastore.store_folder(Path(tmp), bundle.folder.path)
