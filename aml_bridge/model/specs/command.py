"""A Snakemake job → an Azure ML command job spec, as a pure function over plain data.

No azure.ai.ml here: the spec is a dataclass whose `to_yaml()` is the Azure ML job YAML
(commandJob schema). The same dict is dumped for inspection and loaded by the SDK adapter for
submission, so what is inspected is exactly what is submitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aml_bridge.model.environments import EnvironmentSpec
from aml_bridge.model.specs.common import (
    PLUGIN_INPUT,
    PLUGIN_PATH_EXPORT,
    JobFacts,
    RunContext,
    job_environment,
    job_name,
    job_tags,
    placement,
    timeout_seconds,
)

SCHEMA = "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json"


@dataclass(frozen=True)
class CommandJobSpec:
    name: str
    display_name: str
    experiment: str
    tags: dict[str, str]
    compute: str | None  # None: serverless
    environment: EnvironmentSpec
    command: str
    env_vars: dict[str, str]
    instance_type: str | None
    timeout_s: int | None
    low_priority: bool
    plugin_bundle: str | None = None

    def to_yaml(self, inline_environment: bool = True) -> dict[str, Any]:
        """The Azure ML YAML; with inline_environment=False built environments are referenced
        by their registered name and version (the client registers them first)."""
        spec: dict[str, Any] = {
            "$schema": SCHEMA,
            "type": "command",
            "name": self.name,
            "display_name": self.display_name,
            "experiment_name": self.experiment,
            "tags": dict(self.tags),
            "environment": (
                self.environment.inline() if inline_environment else self.environment.registered_id
            ),
            "command": (PLUGIN_PATH_EXPORT if self.plugin_bundle else "") + self.command,
        }
        if self.compute:  # without one, Azure ML runs the job on serverless compute
            spec["compute"] = f"azureml:{self.compute}"
        if self.plugin_bundle:
            spec["inputs"] = {
                PLUGIN_INPUT: {"type": "uri_folder", "path": self.plugin_bundle, "mode": "ro_mount"}
            }
        if self.env_vars:
            spec["environment_variables"] = dict(self.env_vars)
        if self.instance_type:
            spec["resources"] = {"instance_type": self.instance_type, "instance_count": 1}
        if self.timeout_s:
            spec["limits"] = {"timeout": self.timeout_s}
        if self.low_priority:
            spec["queue_settings"] = {"job_tier": "spot"}
        return spec


def build_spec(run: RunContext, facts: JobFacts) -> CommandJobSpec:
    """The command job for one attempt of one Snakemake job. ValueError names the job."""
    compute, instance_type = placement(run, facts)
    return CommandJobSpec(
        name=job_name(run.run_id, facts),
        display_name=facts.label,
        experiment=run.experiment,
        tags=job_tags(run, facts),
        compute=compute,
        environment=job_environment(run, facts),
        command=facts.command,
        env_vars=dict(run.env_vars),
        instance_type=instance_type,
        timeout_s=timeout_seconds(facts),
        low_priority=run.low_priority and compute is None,
        plugin_bundle=run.plugin_bundle,
    )
