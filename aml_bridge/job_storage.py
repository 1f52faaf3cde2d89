"""What the storage plugin learned from the workspace, handed to the jobs so they never ask it.

When the plugin located a datastore through the workspace (no account settings given), the jobs
get the same answer as `SNAKEMAKE_STORAGE_AZUREML_DATASTORES`; data assets the run resolved
(`azureml:hg38:1`, `azureml:hg38@latest`) go as `SNAKEMAKE_STORAGE_AZUREML_DATA_ASSETS`, so a
job reads the same version. A job's identity then needs storage access only.
"""

from __future__ import annotations

import json
from typing import Any

from snakemake_storage_plugin_azureml.data_assets import DATA_ASSETS_ENV, resolved_assets
from snakemake_storage_plugin_azureml.query import parse_query
from snakemake_storage_plugin_azureml.workspace import datastores_setting

DATASTORES_ENV = "SNAKEMAKE_STORAGE_AZUREML_DATASTORES"


def located_datastores(workflow: Any) -> dict[str, str]:
    """The job environment variables above, those that apply; the default storage's datastore
    is resolved now (once per run) when the workspace is where datastores are looked up."""
    env = {}
    assets = resolved_assets()
    if assets:
        env[DATA_ASSETS_ENV] = json.dumps(assets, sort_keys=True)
    storage = workflow.storage_settings
    if storage.default_storage_provider != "azureml" or not storage.default_storage_prefix:
        return env
    provider = workflow.storage_registry.default_storage_provider
    lookup = getattr(provider, "workspace_datastores", None)
    if lookup is None:
        return env
    provider.datastore(parse_query(storage.default_storage_prefix).datastore)
    if lookup.resolved:
        env[DATASTORES_ENV] = datastores_setting(lookup.resolved)
    return env
