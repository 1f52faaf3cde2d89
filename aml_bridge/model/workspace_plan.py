"""What a workspace needs for this workflow, as pure data: clusters, one environment per
`workflow/envs/*.yaml`, one parallel component per rule, each version derived from its content.

A rule's component runs any number of the rule's jobs (one item each, the executor's group
manifests and entry script), so one node of an exported pipeline runs all jobs of a rule; a rule
without wildcards is the one-item case. Azure ML orders pipeline nodes only by data bindings
and a component's inputs are a fixed set: each component has a `results` output (the rows of
its finished jobs) and one optional input `after_<rule>` per rule it reads outputs of, which an
export binds to that rule's node's `results`. Inputs, outputs, entry script and arguments are
those of the executor's group steps (aml_bridge.model.specs.pipeline), so a group's pipeline job can
run the registered component too.

The environments are exactly those the executor builds for the rules' conda files (same name,
same content, same version), in both flavours (command jobs; parallel steps, which components
are), so jobs run on what `aml-genomics setup` registered.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aml_bridge.model.environments import EnvironmentSpec, choose_environment
from aml_bridge.model.names import azure_name
from aml_bridge.model.specs.parallel_step import ENTRY_SCRIPT, ParallelStep
from aml_bridge.model.workflow_rules import RuleFacts

COMPONENT_SCHEMA = "https://azuremlschemas.azureedge.net/latest/parallelComponent.schema.json"
ENTRY_PATH = Path(__file__).with_name(ENTRY_SCRIPT)
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
    """Both flavours of one built environment per workflow/envs/*.yaml and of the runtime one (rules
    without conda file); the last is the runtime's command flavour (the probe job's)."""
    files = [
        (f"workflow/envs/{path.name}", path.read_text()) for path in sorted(env_dir.glob("*.yaml"))
    ]
    return [
        choose_environment(
            aml_environment=None,
            container_image=None,
            conda_file=conda_file,
            default_environment=None,
            base_image=base_image,
            pip=pip,
            parallel=parallel,
        )  # fmt: skip
        for conda_file in [*files, None]
        for parallel in (True, False)
    ]


def rule_environment(
    rule: RuleFacts, base_image: str, pip: list[str], parallel: bool = True
) -> EnvironmentSpec:
    """The environment of the rule's jobs: by default its component's (a parallel step's)."""
    return choose_environment(
        aml_environment=rule.aml_environment, container_image=None, conda_file=rule.conda_file,
        default_environment=None, base_image=base_image, pip=pip, parallel=parallel,
    )  # fmt: skip


def component(rule: RuleFacts, env: EnvironmentSpec, registered: set[str]) -> ComponentWanted:
    """The rule as a parallel component: each item of `members` is one job of the rule (its
    manifest), run by the executor's entry script in the rule's environment. The command
    template, threads, memory, runtime, upstream rules (among `registered`, the rules that get
    a component) and the entry script are its content, so a change in any gives a new
    version. The node sets compute, instance count, concurrency and retries per export."""
    name = azure_name(rule.name, "rule")
    facts = {"threads": rule.threads, "mem_mb": rule.mem_mb, "runtime": rule.runtime}
    tags = {"snakemake_rule": rule.name} | {k: str(v) for k, v in facts.items() if v is not None}
    step = ParallelStep(
        label=rule.name,
        environment=env,
        after=tuple(up for up in rule.upstream if up in registered),
    )
    spec: dict[str, Any] = {
        "$schema": COMPONENT_SCHEMA,
        "name": name,
        "display_name": f"rule {rule.name}",
        "description": (rule.description + "\n\n" if rule.description else "")
        + f"Snakemake rule {rule.name}:\n\n{rule.command}",
        "tags": {k: v[:TAG_MAX] for k, v in tags.items()},
        **step.to_component(),
    }
    content = json.dumps(spec, sort_keys=True).encode() + ENTRY_PATH.read_bytes()
    digest = hashlib.sha256(content).hexdigest()[:16]
    return ComponentWanted(rule.name, name, digest, {**spec, "version": digest}, env)
