"""The workflow folder's own place on the datastore.

A default storage prefix that names only a datastore (`azureml://datastores/NAME/paths/`, what
the aml profile sets) becomes `<that>/<folder name>-<id>`, where the id is created once and kept
in the folder (`.snakemake/aml/folder_id`). Two folders then never share outputs by accident:
the same relative paths (in/ref.fa, results/...) of another folder live under another prefix.
A prefix with a path of its own is the user's choice and stays as given.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from aml_bridge.model.names import experiment_name

ID_FILE = Path(".snakemake/aml/folder_id")
_ID = re.compile(r"^[0-9a-f]{8}$")
_DATASTORE_ROOT = re.compile(r"^azureml://datastores/[^/]+/paths/?$")


def folder_id(workdir: Path) -> str:
    """The folder's id: read from ID_FILE, or created there once (the first writer wins)."""
    path = workdir / ID_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "x") as f:
                f.write(secrets.token_hex(4) + "\n")
        except FileExistsError:
            pass
    value = path.read_text().strip()
    if not _ID.match(value):
        raise ValueError(
            f"{path} holds {value[:40]!r}, not a folder id (8 hex digits); delete the file to "
            "get a new id, which gives this folder a new, empty place on the datastore"
        )
    return value


def is_datastore_root(prefix: str | None) -> bool:
    return bool(prefix) and bool(_DATASTORE_ROOT.match(prefix))


def folder_prefix(prefix: str, workdir: Path) -> str:
    """`prefix` with the folder's own path appended when it names only a datastore."""
    if not is_datastore_root(prefix):
        return prefix
    name = experiment_name(Path(os.path.abspath(workdir)).name)
    return f"{prefix.rstrip('/')}/{name}-{folder_id(workdir)}"
