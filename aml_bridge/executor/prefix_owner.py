"""Which workflow folder a storage prefix belongs to: `<prefix>/.snakemake/aml/owner.json`.

Outputs under a prefix stand in for the next run's: a second folder given the first one's
prefix (the same relative in/ref.fa, results/...) would get the first one's BAMs without a
word. The first run on a prefix marks it with its folder (id, host, path); a run from another
folder is refused before anything is uploaded, unless it shares the prefix on purpose.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from snakemake_interface_common.exceptions import WorkflowError

from aml_bridge.model.folder_prefix import folder_id
from snakemake_storage_plugin_azureml.query import parse_query

if TYPE_CHECKING:
    from collections.abc import Callable

    from snakemake_storage_plugin_azureml.blobstore import Datastore

OWNER = ".snakemake/aml/owner.json"


@dataclass(frozen=True)
class Owner:
    folder_id: str
    host: str
    path: str

    @classmethod
    def of(cls, workdir: Path) -> Owner:
        return cls(folder_id(workdir), socket.gethostname(), os.path.abspath(workdir))

    def describe(self) -> str:
        return f"{self.host}:{self.path} (folder id {self.folder_id})"


def claim(
    datastore_of: Callable[[str], Datastore], prefix: str, me: Owner, share: bool
) -> Owner | None:
    """Mark `prefix` as `me`'s on first use. Returns the other folder that owns it when shared
    on purpose (`share`), else None; refuses another folder's prefix otherwise."""
    location = parse_query(f"{prefix.rstrip('/')}/{OWNER}")
    datastore = datastore_of(location.datastore)
    owner = _read(datastore, location.path)
    if owner is None:
        _write(datastore, location.path, me)
        return None
    if owner.folder_id == me.folder_id:
        return None
    if share:
        return owner
    raise WorkflowError(
        f"aml: storage prefix {prefix} holds the outputs of another workflow folder, "
        f"{owner.describe()}; they would stand in for this folder's. Use another prefix "
        "(the aml profile's default gives each folder its own), or pass --aml-share-prefix "
        "to share it on purpose."
    )


def _read(datastore: Datastore, path: str) -> Owner | None:
    entry = datastore.stat(path)
    if entry is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp, "owner.json")
        datastore.retrieve_file(entry, local)
        text = local.read_text(errors="replace")
    try:
        return Owner(**json.loads(text))
    except (ValueError, TypeError) as e:
        raise WorkflowError(
            f"aml: {datastore.query(path)} does not name the folder owning the prefix ({e}); "
            "delete it if this folder's outputs belong there"
        ) from None


def _write(datastore: Datastore, path: str, me: Owner) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp, "owner.json")
        local.write_text(json.dumps(asdict(me), indent=1) + "\n")
        datastore.store_file(local, path)
