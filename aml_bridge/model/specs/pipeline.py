"""A Snakemake group of independent jobs → one Azure ML pipeline job with one parallel step,
as a pure function over plain data.

Each member job is one item: a small JSON manifest in the step's `uri_folder` input
(`input_data`). The entry script (`aml_bridge/model/member_entry.py`, the step's code) runs each
member's own Snakemake command and returns a row (the member's id) per member that succeeded;
`append_row_to` collects the rows in `results.txt`, each member's output goes to
`logs/<id>.log`. All of it lives in one folder per attempt on the datastore, which the
executor reads when the pipeline ends.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from aml_bridge.model.clusters import Cluster
from aml_bridge.model.environments import EnvironmentSpec
from aml_bridge.model.names import TAG_VALUE_MAX, shorten
from aml_bridge.model.specs.common import (
    PLUGIN_INPUT,
    JobFacts,
    RunContext,
    job_environment,
    job_key,
    job_name,
    job_tags,
    placement,
    timeout_seconds,
)
from aml_bridge.model.specs.parallel_step import (
    DEFAULT_MEMBER_TIMEOUT_S,
    LOGS_OUTPUT,
    MEMBERS_INPUT,
    RESULTS_OUTPUT,
    ParallelStep,
    jobs_label,
)

GROUP_TAG = "snakemake_group"
# Azure ML accepts retry_settings.timeout in (0, 259200] s (CLI v2 parallel job YAML reference):
# a member whose runtime is longer gets the longest per-call limit Azure allows.
MAX_STEP_TIMEOUT_S = 3 * 24 * 3600


@dataclass(frozen=True)
class Member:
    """One member job of a group: its id (stable across attempts) and facts."""

    id: str
    facts: JobFacts

    def manifest(self) -> bytes:
        f = self.facts
        data = {
            "id": self.id,
            "rule": f.rule,
            "wildcards": f.wildcards,
            "label": f.label,
            "command": f.command,
        }
        return json.dumps(data, sort_keys=True).encode()


def members_of(facts: list[JobFacts]) -> tuple[Member, ...]:
    return tuple(Member(job_key(f.rule, f.outputs), f) for f in facts)


@dataclass(frozen=True)
class PipelineJobSpec:
    name: str
    display_name: str
    experiment: str
    tags: dict[str, str]
    compute: str
    environment: EnvironmentSpec
    env_vars: dict[str, str]
    members: tuple[Member, ...]
    folder: str  # azureml:// folder of this attempt: members/, results.txt, logs/
    instance_count: int
    max_concurrency_per_instance: int
    max_retries: int
    timeout_s: int
    plugin_bundle: str | None = None
    # -1 for the executor's groups: every member runs to its end, the rows say who failed
    mini_batch_error_threshold: int = 0
    # `azureml:<rule>:<version>`: the step runs the rule's registered component (same inputs,
    # outputs, entry script and arguments) with this spec's settings, instead of its own
    component: str | None = None

    @property
    def members_uri(self) -> str:
        return f"{self.folder}members/"

    @property
    def results_uri(self) -> str:
        return f"{self.folder}results.txt"

    @property
    def logs_uri(self) -> str:
        return f"{self.folder}logs/"

    def manifests(self) -> dict[str, bytes]:
        """File name → content of the items folder."""
        return {f"{m.id}.json": m.manifest() for m in self.members}

    @property
    def step(self) -> ParallelStep:
        return ParallelStep(
            label=self.display_name,
            environment=self.environment,
            compute=self.compute,
            instance_count=self.instance_count,
            max_concurrency_per_instance=self.max_concurrency_per_instance,
            max_retries=self.max_retries,
            timeout_s=self.timeout_s,
            mini_batch_error_threshold=self.mini_batch_error_threshold,
            env_vars=self.env_vars,
            plugins=bool(self.plugin_bundle),
        )

    def to_yaml(self, code: str, inline_environment: bool = True) -> dict[str, Any]:
        """The pipeline job YAML; `code` is the folder holding the entry script (a path
        relative to the YAML file, or absolute)."""
        inputs: dict[str, Any] = {
            MEMBERS_INPUT: {"type": "uri_folder", "path": self.members_uri, "mode": "ro_mount"}
        }
        if self.plugin_bundle:
            inputs[PLUGIN_INPUT] = {
                "type": "uri_folder",
                "path": self.plugin_bundle,
                "mode": "ro_mount",
            }
        outputs = {
            RESULTS_OUTPUT: {"type": "uri_file", "path": self.results_uri, "mode": "rw_mount"},
            LOGS_OUTPUT: {"type": "uri_folder", "path": self.logs_uri, "mode": "rw_mount"},
        }
        return self.step.to_pipeline_job(
            inputs, outputs, self.component, code, inline_environment,
            name=self.name, display_name=self.display_name, experiment_name=self.experiment,
            tags=dict(self.tags),
        )  # fmt: skip


def group_tags(run: RunContext, group: JobFacts, groupid: str) -> dict[str, str]:
    """A group's pipeline job: a command job's tags and the group's id."""
    return job_tags(run, group, **{GROUP_TAG: shorten(groupid, TAG_VALUE_MAX)})


def group_label(group: JobFacts, members: tuple[Member, ...]) -> str:
    """`rule[n jobs]` (the group's id when its members' rules differ)."""
    rules = sorted({m.facts.rule for m in members})
    return jobs_label(rules[0] if len(rules) == 1 else group.rule, len(members))


def build_pipeline_spec(
    run: RunContext,
    group: JobFacts,
    groupid: str,
    members: tuple[Member, ...],
    standalone: bool = False,
) -> PipelineJobSpec:
    """The pipeline job for one attempt of a group of independent jobs sharing an environment.

    Each member is placed like a command job (the smallest cluster whose node fits its threads
    and memory); the step gets `resources.instance_count` nodes (default: enough for all members
    at once, at most the cluster's size) running node cores ÷ threads members each.
    ValueError names the group.

    Retries have one owner, or they multiply (r+1)² runs of a failing member: Snakemake, whose
    retry of a failed group is a new attempt (a new pipeline job of the members that did not
    succeed, with keep-incomplete), so the step retries nothing (`max_retries` 0) and runs
    every member to its end (`mini_batch_error_threshold` -1: a failure does not stop the
    others); the executor fails the group when a member returned no row. Snakemake also retries
    what the step cannot (a node allocation or the pipeline job failing, a time limit), counts
    attempts as for command jobs (`snakemake_attempt`, one log per attempt) and re-evaluates
    attempt-dependent resources; a retry costs a new node allocation. A preempted low-priority
    node is neither's retry: Azure ML restarts the job, members with an `.ok` mark are not run
    again. `standalone`: no Snakemake watches the step (an exported pipeline), so the step
    retries each failed member's mini-batch the rules' retries and a member still failing
    fails it (`mini_batch_error_threshold` 0), or later nodes would run without its outputs.
    """
    if not run.group_root:
        raise ValueError(
            f"{group.label}: a group runs as a parallel step only with the azureml default "
            "storage (its members' manifests go to the datastore)"
        )
    biggest = max(members, key=lambda m: (m.facts.threads, m.facts.resources.get("mem_mb") or 0))
    compute, _ = placement(run, biggest.facts)
    if compute is None:
        raise ValueError(f"{group.label}: a parallel step needs a compute cluster, not serverless")
    cluster = next((c for c in run.clusters if c.name == compute), None)
    per_node = _per_node(cluster, biggest.facts.threads)
    wanted = group.resources.get("instance_count")
    if wanted is not None and (not isinstance(wanted, int) or wanted < 1):
        raise ValueError(f"{group.label}: resource instance_count must be a positive integer")
    nodes = wanted or math.ceil(len(members) / per_node)
    if cluster is not None:
        nodes = min(nodes, cluster.max_instances)
    limits = [timeout_seconds(m.facts) for m in members]
    name = job_name(run.run_id, group)
    return PipelineJobSpec(
        name=name,
        display_name=group_label(group, members),
        experiment=run.experiment,
        tags=group_tags(run, group, groupid),
        compute=compute,
        environment=job_environment(run, group, parallel=True),
        env_vars=dict(run.env_vars),
        members=members,
        folder=f"{run.group_root.rstrip('/')}/{name}/",
        instance_count=max(1, nodes),
        max_concurrency_per_instance=per_node,
        max_retries=max(m.facts.retries for m in members) if standalone else 0,
        mini_batch_error_threshold=0 if standalone else -1,
        timeout_s=min(
            MAX_STEP_TIMEOUT_S, max((t for t in limits if t), default=DEFAULT_MEMBER_TIMEOUT_S)
        ),
        plugin_bundle=run.plugin_bundle,
    )


def _per_node(cluster: Cluster | None, threads: int) -> int:
    """Members one node runs at once: its cores ÷ a member's threads (1 without cluster sizes)."""
    return max(1, cluster.cores // max(1, threads)) if cluster else 1
