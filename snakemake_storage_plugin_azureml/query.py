"""Parse and validate `azureml://datastores/<datastore>/paths/<path>` queries.

Pure functions only: the query is the one address Azure ML jobs and the local Snakemake
process share, so every other module works on the parsed `BlobLocation`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

SCHEME = "azureml://"
_SHORT_FORM = re.compile(r"^azureml://datastores/(?P<datastore>[^/]*)/paths/(?P<path>.*)$", re.S)
_DATASTORE_NAME = re.compile(r"^[A-Za-z0-9_]{1,255}$")
_DOT_SEGMENT = re.compile(r"(?:^|/)\.\.?(?:/|\Z)")
_BAD_CHAR = re.compile(r"[\x00-\x1f\\]")
MAX_BLOB_NAME = 1024
EXAMPLE = "azureml://datastores/workspaceblobstore/paths/genomics_data/sample1_R1.fastq.gz"


class InvalidQuery(ValueError):
    """A query that does not address a path on an Azure ML datastore."""


@dataclass(frozen=True, slots=True)
class BlobLocation:
    """A blob (or a folder-like prefix) on a named datastore."""

    datastore: str
    path: str

    @property
    def query(self) -> str:
        return make_query(self.datastore, self.path)

    @property
    def parent(self) -> str:
        """The enclosing folder ("" for the datastore root)."""
        return self.path.rpartition("/")[0]

    @property
    def inventory_root(self) -> str:
        """The top-level folder holding the blob ("" for a blob at the datastore root).

        A workflow keeps everything under its storage prefix (`genomics_output/results/...`,
        `.../logs/...`), so one flat listing of this folder answers existence and mtime for
        the whole DAG: absent files then cost no request either.
        """
        return self.parent.partition("/")[0]


def make_query(datastore: str, path: str) -> str:
    return f"{SCHEME}datastores/{datastore}/paths/{path}"


def parse_query(query: str) -> BlobLocation:
    """Split a query into datastore and path, or raise `InvalidQuery` saying what is wrong."""
    parsed = _parse(query)
    if isinstance(parsed, str):
        raise InvalidQuery(f"invalid azureml query {query!r}: {parsed}")
    return parsed


def query_problem(query: str) -> str | None:
    """Why `query` is not a valid datastore path, or None when it is (wildcards allowed)."""
    parsed = _parse(query)
    return parsed if isinstance(parsed, str) else None


@functools.lru_cache(maxsize=1 << 15)
def _parse(query: str) -> BlobLocation | str:
    """The location, or why the query is invalid. Snakemake builds and validates an object per
    file and wildcard application, so each query arrives several times."""
    if not query.startswith(SCHEME):
        return f"must start with {SCHEME} (expected {SCHEME}datastores/<datastore>/paths/<path>)"
    match = _SHORT_FORM.match(query)
    if match is None:
        if "/workspaces/" in query and "/datastores/" in query:
            return (
                "the long workspace form is not supported; use the short form "
                f"{SCHEME}datastores/<datastore>/paths/<path>"
            )
        return f"expected {SCHEME}datastores/<datastore>/paths/<path>"
    datastore, path = match["datastore"], match["path"]
    if not _DATASTORE_NAME.match(datastore):
        return (
            f"datastore name {datastore!r} must be 1-255 letters, digits or underscores "
            "(wildcards are not allowed in the datastore name)"
        )
    return path_problem(path) or BlobLocation(datastore, path)


def path_problem(path: str) -> str | None:
    """Why `path` cannot be a blob name or folder prefix, or None."""
    if not path:
        return "the path after /paths/ is empty"
    if path.startswith("/") or path.endswith("/") or "//" in path:
        return f"path {path!r} has an empty segment (leading, trailing or double '/')"
    if _DOT_SEGMENT.search(path):
        return f"path {path!r} contains '.' or '..' segments"
    if _BAD_CHAR.search(path):
        return f"path {path!r} contains a backslash or a control character"
    if len(path) > MAX_BLOB_NAME:
        return f"path is longer than {MAX_BLOB_NAME} characters"
    return None
