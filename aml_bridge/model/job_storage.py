"""What the storage plugin learned from the workspace, handed to the jobs so they never ask it.

When the plugin located a datastore through the workspace (no account settings given), the jobs
get the same answer as `SNAKEMAKE_STORAGE_AZUREML_DATASTORES`; data assets the run resolved
(`azureml:hg38:1`, `azureml:hg38@latest`) go as `SNAKEMAKE_STORAGE_AZUREML_DATA_ASSETS`, so a
job reads the same version. A job's identity then needs storage access only.
"""

from __future__ import annotations

import json
from typing import Any

from snakemake_storage_plugin_azureml.run_storage import (
    DATA_ASSETS_ENV,
    RunStorage,
    resolved_data_assets,
)

DATASTORES_ENV = "SNAKEMAKE_STORAGE_AZUREML_DATASTORES"


def located_datastores(workflow: Any) -> dict[str, str]:
    """The job environment variables above, those that apply; the default storage's datastore
    is resolved now (once per run) when the workspace is where datastores are looked up."""
    env = {}
    assets = resolved_data_assets()
    if assets:
        env[DATA_ASSETS_ENV] = json.dumps(assets, sort_keys=True)
    run = RunStorage.of(workflow)
    located = run.located_datastores() if run else ""
    if located:
        env[DATASTORES_ENV] = located
    return env
