"""The workflow's DAG as ONE native Azure ML pipeline job (`aml-genomics export`), as a pure
function over plain data.

One parallel node per rule whose jobs need to run: its items are the rule's jobs (the
executor's member manifests, run by its entry script), its definition the rule's registered
component (`azureml:<rule>:<version>`, as `aml-genomics setup` registers it); compute, node
count, concurrency, retries and environment variables are set on the node. Azure ML orders
nodes only by data bindings: a node's `after_<rule>` input is bound to the `results` output
(the rows of its finished jobs) of the node of each rule it reads outputs of. Every node input
and output is bound to a pipeline-level one with its datastore path, so the YAML shows where
everything lives (the places the executor's group steps use). `settings.force_rerun` is true
unless reuse is allowed: Snakemake decided which jobs need to run, and Azure ML would otherwise
reuse a completed node of an earlier submission with the same inputs instead of running it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from aml_bridge.model.specs.common import PLUGIN_INPUT
from aml_bridge.model.specs.parallel_step import (
    LOGS_OUTPUT,
    MEMBERS_INPUT,
    PIPELINE_SCHEMA,
    RESULTS_OUTPUT,
    ParallelStep,
    after_input,
    binding,
    jobs_label,
)
from aml_bridge.model.specs.pipeline import PipelineJobSpec

EXPORT_TAG = "snakemake_export"


class ExportError(ValueError):
    """The DAG cannot become one pipeline as it is (the message says why and what to do)."""


@dataclass(frozen=True)
class ExportedRule:
    """The jobs of one rule that need to run, as the executor placed them."""

    rule: str
    jobs: int
    compute: str
    instance_count: int
    max_concurrency_per_instance: int
    max_retries: int
    timeout_s: int
    folder: str  # azureml:// folder with members/ (uploaded), results.txt and logs/
    upstream: tuple[str, ...]  # rules of this export whose outputs its jobs read
    env_vars: dict[str, str]

    @classmethod
    def of(cls, rule: str, spec: PipelineJobSpec, upstream: tuple[str, ...]) -> ExportedRule:
        """The rule's jobs as the executor placed them in a group's step (`spec`)."""
        return cls(
            rule=rule, jobs=len(spec.members), compute=spec.compute,
            instance_count=spec.instance_count,
            max_concurrency_per_instance=spec.max_concurrency_per_instance,
            max_retries=spec.max_retries, timeout_s=spec.timeout_s, folder=spec.folder,
            upstream=upstream, env_vars=dict(spec.env_vars),
        )  # fmt: skip

    @property
    def members_uri(self) -> str:
        return f"{self.folder}members/"

    @property
    def step(self) -> ParallelStep:
        """The rule's node settings (its component, registered, has the rest)."""
        return ParallelStep(
            label=jobs_label(self.rule, self.jobs),
            compute=self.compute,
            instance_count=self.instance_count,
            max_concurrency_per_instance=self.max_concurrency_per_instance,
            max_retries=self.max_retries,
            timeout_s=self.timeout_s,
            env_vars=self.env_vars,
            after=self.upstream,
        )


@dataclass(frozen=True)
class ExportedRun:
    """What the executor's export mode leaves for `aml-genomics export` (one JSON file)."""

    export_id: str
    experiment: str
    plugin_bundle: str
    rules: tuple[ExportedRule, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> ExportedRun:
        doc = json.loads(text)
        rules = tuple(
            ExportedRule(**{**r, "upstream": tuple(r["upstream"])}) for r in doc.pop("rules")
        )
        return cls(**doc, rules=rules)


def pipeline_yaml(
    run: ExportedRun, components: Mapping[str, str], allow_reuse: bool = False
) -> dict[str, Any]:
    """The pipelineJob YAML; `components` maps a rule to its registered component reference
    (`azureml:<name>:<version>`); `allow_reuse`: let Azure ML reuse completed nodes of earlier
    submissions (`force_rerun: false`). ExportError names the rules without one."""
    missing = sorted(r.rule for r in run.rules if r.rule not in components)
    if missing:
        raise ExportError(
            f"no registered component for rule(s) {', '.join(missing)}: run aml-genomics setup"
        )
    ordered = _topological(run.rules)
    inputs: dict[str, Any] = {
        PLUGIN_INPUT: {"type": "uri_folder", "path": run.plugin_bundle, "mode": "ro_mount"}
    }
    outputs: dict[str, Any] = {}
    jobs: dict[str, Any] = {}
    for r in ordered:
        members, results, logs = f"{r.rule}_members", f"{r.rule}_results", f"{r.rule}_logs"
        inputs[members] = {"type": "uri_folder", "path": r.members_uri, "mode": "ro_mount"}
        rows = f"{r.folder}results.txt"
        outputs[results] = {"type": "uri_file", "path": rows, "mode": "rw_mount"}
        outputs[logs] = {"type": "uri_folder", "path": f"{r.folder}logs/", "mode": "rw_mount"}
        node_inputs = {
            MEMBERS_INPUT: binding("inputs", members),
            PLUGIN_INPUT: binding("inputs", PLUGIN_INPUT),
        } | {
            after_input(up): f"${{{{parent.jobs.{up}.outputs.{RESULTS_OUTPUT}}}}}"
            for up in r.upstream
        }
        node_outputs = {
            RESULTS_OUTPUT: binding("outputs", results),
            LOGS_OUTPUT: binding("outputs", logs),
        }
        node = r.step.to_node(node_inputs, node_outputs, component=components[r.rule])
        jobs[r.rule] = node
    total = sum(r.jobs for r in run.rules)
    return {
        "$schema": PIPELINE_SCHEMA,
        "type": "pipeline",
        "display_name": f"snakemake workflow: {total} jobs of {len(jobs)} rules",
        "experiment_name": run.experiment,
        "tags": {EXPORT_TAG: run.export_id},
        "settings": {
            "default_compute": f"azureml:{ordered[0].compute}",
            "force_rerun": not allow_reuse,
        },
        "inputs": inputs,
        "outputs": outputs,
        "jobs": jobs,
    }


def _topological(rules: tuple[ExportedRule, ...]) -> list[ExportedRule]:
    """Upstream rules first (the YAML reads in running order); ExportError on a cycle."""
    by_name = {r.rule: r for r in rules}
    done: dict[str, ExportedRule] = {}
    while len(done) < len(by_name):
        ready = [
            r for name, r in sorted(by_name.items())
            if name not in done and all(up in done for up in r.upstream)
        ]  # fmt: skip
        if not ready:
            left = sorted(set(by_name) - set(done))
            raise ExportError(f"rules {', '.join(left)} depend on each other in a cycle")
        done.update((r.rule, r) for r in ready)
    return list(done.values())
