"""Where the jobs' datastores live, handed to them so they never ask the workspace.

When the storage plugin learned a datastore's account and container from the workspace (no
account settings given), the jobs get the same answer as `SNAKEMAKE_STORAGE_AZUREML_DATASTORES`
in their environment: a job's identity needs storage access only, not workspace access.
"""

from __future__ import annotations

from typing import Any

from snakemake_storage_plugin_azureml.query import parse_query
from snakemake_storage_plugin_azureml.workspace import datastores_setting

DATASTORES_ENV = "SNAKEMAKE_STORAGE_AZUREML_DATASTORES"


def located_datastores(workflow: Any) -> dict[str, str]:
    """{DATASTORES_ENV: NAME=container URL, ...} for the datastores resolved through the
    workspace, the default storage's datastore resolved now (once per run); {} otherwise."""
    storage = workflow.storage_settings
    if storage.default_storage_provider != "azureml" or not storage.default_storage_prefix:
        return {}
    provider = workflow.storage_registry.default_storage_provider
    lookup = getattr(provider, "workspace_datastores", None)
    if lookup is None:
        return {}
    provider.datastore(parse_query(storage.default_storage_prefix).datastore)
    return {DATASTORES_ENV: datastores_setting(lookup.resolved)} if lookup.resolved else {}
