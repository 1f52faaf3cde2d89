"""What this process's run knows beyond any one storage provider, kept by one object.

Snakemake parses the executor's settings before it builds any storage provider, and builds
providers itself; the Snakefile resolves data assets while it is parsed, under any default
storage. Neither can be handed to a provider, so both live here, once per process: written
and read through the public handle (run_storage.py), read by the provider when it looks up
datastores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .data_assets import DataAssets
from .workspace import WorkspaceRef


@dataclass
class RunRegistry:
    executor_workspace: WorkspaceRef | None = None  # the aml executor's, when its settings name one
    data_assets: DataAssets = field(default_factory=DataAssets)


REGISTRY = RunRegistry()
