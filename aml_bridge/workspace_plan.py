"""What a workspace needs for this workflow, as pure data: clusters, one environment per
`envs/*.yaml`, one command component per rule, each version derived from its content.

The environments are exactly those the executor builds for the rules' conda files (same name,
same content, same version), so jobs run on what `aml-genomics setup` registered.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aml_bridge.environments import EnvironmentSpec, choose_environment
from aml_bridge.names import azure_name
from aml_bridge.specs.common import PLUGIN_INPUT, PLUGIN_PATH_EXPORT
from aml_bridge.workflow_rules import RuleFacts

COMPONENT_SCHEMA = "https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json"
JOB_INPUT = "snakemake_job"  # the arguments of one Snakemake job of the rule
TAG_MAX = 1000


DEFAULT_VM_SIZE = "Standard_D8s_v3"  # 8 cores: bwa_mem asks for 8 threads
DEFAULT_TIER = "dedicated"


@dataclass(frozen=True)
class ClusterWanted:
    """vm_size / tier None: an existing cluster's stay, a new one gets the defaults."""

    name: str
    vm_size: str | None
    max_nodes: int
    min_nodes: int = 0
    idle_s: int = 120
    tier: str | None = None  # dedicated or low_priority

    def describe(self) -> str:
        return (
            f"{self.vm_size}, {self.min_nodes}-{self.max_nodes} nodes, idle {self.idle_s} s, "
            f"{self.tier}, system-assigned identity"
        )


@dataclass(frozen=True)
class ComponentWanted:
    rule: str
    name: str
    version: str
    spec: dict[str, Any]  # the component YAML (commandComponent schema)
    environment: EnvironmentSpec

    @property
    def reference(self) -> str:
        return f"azureml:{self.name}:{self.version}"


def environments(env_dir: Path, base_image: str, pip: list[str]) -> list[EnvironmentSpec]:
    """One built environment per envs/*.yaml, plus the runtime one (rules without conda file)."""
    specs = [
        choose_environment(
            aml_environment=None,
            container_image=None,
            conda_file=(f"envs/{path.name}", path.read_text()),
            default_environment=None,
            base_image=base_image,
            pip=pip,
        )  # fmt: skip
        for path in sorted(env_dir.glob("*.yaml"))
    ]
    runtime = choose_environment(
        aml_environment=None, container_image=None, conda_file=None, default_environment=None,
        base_image=base_image, pip=pip,
    )  # fmt: skip
    return [*specs, runtime]


def rule_environment(rule: RuleFacts, base_image: str, pip: list[str]) -> EnvironmentSpec:
    return choose_environment(
        aml_environment=rule.aml_environment, container_image=None,
        conda_file=rule.conda_file, default_environment=None, base_image=base_image, pip=pip,
    )  # fmt: skip


def component(rule: RuleFacts, env: EnvironmentSpec) -> ComponentWanted:
    """The rule as a command component: it runs one Snakemake job of the rule (its arguments
    are the `snakemake_job` input) in the rule's environment; the command template, threads,
    memory and runtime are part of its content, so a change in any gives a new version."""
    name = azure_name(rule.name, "rule")
    facts = {"threads": rule.threads, "mem_mb": rule.mem_mb, "runtime": rule.runtime}
    tags = {"snakemake_rule": rule.name} | {k: str(v) for k, v in facts.items() if v is not None}
    spec: dict[str, Any] = {
        "$schema": COMPONENT_SCHEMA,
        "type": "command",
        "name": name,
        "display_name": f"rule {rule.name}",
        "description": (rule.description + "\n\n" if rule.description else "")
        + f"Snakemake rule {rule.name}:\n\n{rule.command}",
        "tags": {k: v[:TAG_MAX] for k, v in tags.items()},
        "environment": env.registered_id,
        "inputs": {
            PLUGIN_INPUT: {"type": "uri_folder", "mode": "ro_mount"},
            JOB_INPUT: {"type": "string"},
        },
        "command": PLUGIN_PATH_EXPORT + "python -m snakemake ${{inputs." + JOB_INPUT + "}}",
    }
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return ComponentWanted(rule.name, name, digest, {**spec, "version": digest}, env)
