"""Registered data assets as inputs: `azureml:NAME:VERSION` or `azureml:NAME@latest` → the
datastore path the asset names (`azureml://datastores/<ds>/paths/<path>`).

Resolved once per asset and process (`DataAssets`, the run registry's), from the workspace of
the `aml` executor (SNAKEMAKE_AML_*); the executor hands the answers to remote jobs in
DATA_ASSETS_ENV, so jobs resolve `@latest` to the same version and never need access to the
workspace.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from . import credentials
from .datastores import DatastoreConfigError
from .query import InvalidQuery, parse_query
from .workspace import WorkspaceApi, WorkspaceRef

DATA_ASSETS_ENV = "SNAKEMAKE_STORAGE_AZUREML_DATA_ASSETS"
# azureml:<name>:<version> or azureml:<name>@latest (az ml's forms for a registered asset)
REFERENCE = re.compile(
    r"^azureml:(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)(?::(?P<version>[^:@/]+)|@latest)$"
)


@dataclass(frozen=True)
class ResolvedAsset:
    reference: str  # as the user wrote it
    name: str
    version: str
    uri: str  # azureml://datastores/<ds>/paths/<path>


def is_data_asset(value: object) -> bool:
    return isinstance(value, str) and REFERENCE.match(value) is not None


class DataAssets:
    """The data assets this process resolved, each asked once (the Snakefile resolves while
    Snakemake parses it, possibly from several threads)."""

    def __init__(self) -> None:
        self._resolved: dict[str, ResolvedAsset] = {}
        self._lock = threading.Lock()

    def uris(self) -> dict[str, str]:
        """What was resolved, as DATA_ASSETS_ENV's value wants it (reference → URI)."""
        with self._lock:
            return {ref: asset.uri for ref, asset in self._resolved.items()}

    def resolve(self, reference: str, environ: Mapping[str, str]) -> ResolvedAsset:
        """The asset's datastore path; DatastoreConfigError naming the asset when it does not
        exist, is not on a datastore, or the workspace cannot be asked."""
        with self._lock:
            if reference in self._resolved:
                return self._resolved[reference]
            handed = json.loads(environ.get(DATA_ASSETS_ENV) or "{}")
            if reference in handed:  # a remote job: the submitting run resolved it
                asset = _from_uri(reference, handed[reference], "")
            else:
                asset = _ask_workspace(reference, environ)
            self._resolved[reference] = asset
            return asset


def _ask_workspace(reference: str, env: Mapping[str, str]) -> ResolvedAsset:
    m = REFERENCE.match(reference)
    if m is None:
        raise DatastoreConfigError(
            f"{reference!r} is not azureml:NAME:VERSION or azureml:NAME@latest"
        )
    ref = WorkspaceRef.from_environ(env)
    if ref is None:
        raise DatastoreConfigError(
            f"data asset {reference}: the workspace is unknown; set SNAKEMAKE_AML_SUBSCRIPTION, "
            "SNAKEMAKE_AML_RESOURCE_GROUP and SNAKEMAKE_AML_WORKSPACE"
        )
    api = WorkspaceApi(ref, functools.cache(credentials.default_credential))
    name, version = m["name"], m["version"]
    what = f"data asset {reference}"
    if version is None:
        container = api.get(f"data/{quote(name, safe='')}", what)
        if container is None:
            raise DatastoreConfigError(f"{what}: no data asset {name} in {ref.describe()}")
        version = container["properties"]["latestVersion"]
    doc = api.get(f"data/{quote(name, safe='')}/versions/{quote(version, safe='')}", what)
    if doc is None:
        raise DatastoreConfigError(f"{what}: no data asset {name}:{version} in {ref.describe()}")
    props = doc.get("properties") or {}
    return _from_uri(reference, props.get("dataUri") or "", version, props.get("dataType"))


def _from_uri(reference: str, uri: str, version: str, kind: str | None = None) -> ResolvedAsset:
    m = REFERENCE.match(reference)
    name = m["name"] if m else reference
    if kind not in (None, "uri_file", "uri_folder"):
        raise DatastoreConfigError(f"data asset {reference} is a {kind}, not a file or folder")
    try:
        parse_query(uri)
    except InvalidQuery:
        raise DatastoreConfigError(
            f"data asset {reference} points to {uri or 'nothing'}, not to a datastore path "
            "(azureml://datastores/<name>/paths/<path>)"
        ) from None
    return ResolvedAsset(reference, name, version or "(as resolved by the submitting run)", uri)
