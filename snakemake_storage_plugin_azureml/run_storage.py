"""The storage plugin's one public handle for the aml executor and the workflow.

What a run shares across the plugin's boundary goes through here, explicitly:
- `use_executor_workspace`: the aml executor's settings hand over their workspace, in which
  datastores are looked up (Snakemake parses them before it builds any storage provider);
- `RunStorage.of(workflow)`: the run's azureml default storage, or None (the one place that
  asks whether the default storage is azureml). It stages the workflow's local inputs, uploads
  them before the first job and says what was staged, and names the datastores the workspace
  located, for the jobs;
- `resolve_data_asset`, `resolved_data_assets`: registered data assets, asked once per process.
The state stays with its owners: staged files with the provider's `Staging`, the workspace
and the resolved assets with the run registry (run_registry.py). Light imports only: this
module is imported while Snakemake parses settings and the Snakefile.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from snakemake_interface_common.exceptions import WorkflowError

from .data_assets import DATA_ASSETS_ENV, ResolvedAsset, is_data_asset
from .query import parse_query
from .run_registry import REGISTRY
from .staging import StagingError
from .workspace import WorkspaceRef, datastores_setting

if TYPE_CHECKING:
    from .provider import StorageProvider

__all__ = [
    "DATA_ASSETS_ENV",
    "ResolvedAsset",
    "RunStorage",
    "StagedUpload",
    "is_data_asset",
    "resolve_data_asset",
    "resolved_data_assets",
    "use_executor_workspace",
]


def use_executor_workspace(
    subscription: str | None, resource_group: str | None, workspace: str | None,
    endpoint: str | None,
) -> None:  # fmt: skip
    """The workspace of the aml executor's settings (flags, variables and profile resolved by
    Snakemake), or none when they leave one of the three names unset."""
    REGISTRY.executor_workspace = WorkspaceRef.named(
        subscription, resource_group, workspace, endpoint
    )


def resolve_data_asset(reference: str) -> ResolvedAsset:
    """`azureml:NAME:VERSION` or `azureml:NAME@latest` → the datastore path it names, asked once
    per process; a DatastoreConfigError (ValueError) naming the asset when it cannot be."""
    return REGISTRY.data_assets.resolve(reference, os.environ)


def resolved_data_assets() -> dict[str, str]:
    """Reference → URI of the assets this process resolved (DATA_ASSETS_ENV's value)."""
    return REGISTRY.data_assets.uris()


@dataclass(frozen=True)
class StagedUpload:
    files: int  # staged local inputs, all on the datastore now
    uploaded_bytes: int  # what this upload sent: files already there unchanged are skipped


class RunStorage:
    """The run's azureml default storage, as its main process sees it."""

    def __init__(self, provider: StorageProvider, prefix: str) -> None:
        self.provider = provider
        self.prefix = prefix  # the default storage prefix: where local paths are addressed

    @classmethod
    def of(cls, workflow: Any) -> RunStorage | None:
        """The handle when Snakemake's `workflow` (as the Snakefile and the executor have it) is
        a main process whose default storage is azureml; else None (remote jobs find staged
        files on the datastore, other storages stage nothing)."""
        storage = workflow.storage_settings
        if storage.default_storage_provider != "azureml" or not workflow.is_main_process:
            return None
        provider = workflow.storage_registry.default_storage_provider
        return cls(provider, storage.default_storage_prefix or "")

    def datastore(self, name: str) -> Any:
        """The blob store behind a datastore (blobstore.BlobStore), for the executor's own
        files there: the plugin bundle, group manifests, the prefix's owner mark."""
        return self.provider.datastore(name)

    def stage(self, paths: Iterable[str]) -> None:
        """Stage the local files among `paths` (URLs and files not here are the storage's
        own): until uploaded, the storage reports them with their local facts (staging.py)."""
        local = [path for path in paths if "://" not in path and os.path.exists(path)]
        try:
            self.provider.staging.add(self.prefix, local)
        except StagingError as e:
            raise WorkflowError(f"azureml storage: {e}") from None

    def upload_staged(self) -> StagedUpload | None:
        """Upload the staged inputs (once per run); None when nothing is staged."""
        staging = self.provider.staging
        if not staging:
            return None
        before = self.provider.stats.uploaded_bytes
        staging.upload()
        return StagedUpload(len(staging), self.provider.stats.uploaded_bytes - before)

    def located_datastores(self) -> str:
        """The datastores the workspace located, as a `--storage-azureml-datastores` value for
        the jobs ("" when datastores are not looked up there); the default storage's datastore
        is located now, once per run."""
        lookup = self.provider.workspace_datastores
        if lookup is None or not self.prefix:
            return ""
        self.provider.datastore(parse_query(self.prefix).datastore)
        return datastores_setting(lookup.resolved)
