"""What every job type's spec shares: the facts read off a Snakemake job, the run's context,
names, tags, placement on a cluster, time limit and environment. Pure functions, plain data."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from aml_bridge.model.clusters import (
    SERVERLESS,
    Cluster,
    InstanceType,
    choose_cluster,
    choose_instance_type,
)
from aml_bridge.model.environments import EnvironmentSpec, choose_environment
from aml_bridge.model.names import DISPLAY_NAME_MAX, TAG_VALUE_MAX, TAGS_MAX, azure_name, shorten

RUN_TAG = "snakemake_run_id"
PLUGIN_INPUT = "snakemake_plugins"
# `${{inputs.x}}` is Azure ML's placeholder for the input's local folder; the rest is shell:
# the bundle first, then whatever PYTHONPATH the environment already has.
PLUGIN_PATH_EXPORT = (
    'export PYTHONPATH="${{inputs.' + PLUGIN_INPUT + '}}${PYTHONPATH:+:$PYTHONPATH}" && '
)


@dataclass(frozen=True)
class JobFacts:
    """What translation needs from a Snakemake job (extracted once by the executor)."""

    rule: str
    wildcards: dict[str, str]
    attempt: int
    threads: int
    resources: dict[str, Any]
    outputs: tuple[str, ...]
    command: str
    container_image: str | None = None
    conda_file: tuple[str, str] | None = None  # (path, text)
    retries: int = 0  # the rule's retries (an exported step's retry_settings.max_retries)

    @property
    def label(self) -> str:
        return display_name(self.rule, self.wildcards)


@dataclass(frozen=True)
class RunContext:
    """What is the same for every job of one Snakemake run.

    compute: `serverless`, or the cluster for jobs when `clusters` is empty (specs written
    without a workspace to read the clusters from). clusters: read from the workspace at start,
    smallest first; each job goes to the smallest that fits it.
    """

    run_id: str
    experiment: str
    compute: str
    base_image: str
    pip: list[str]
    clusters: tuple[Cluster, ...] = ()
    default_environment: str | None = None
    instance_type: str | None = None  # serverless only, as the instance table
    instance_table: list[InstanceType] = field(default_factory=list)
    low_priority: bool = False  # serverless only: a cluster's priority is its tier
    tags: dict[str, str] = field(default_factory=dict)
    env_vars: dict[str, str] = field(default_factory=dict)
    # azureml:// folder URI of the storage plugin bundle (aml_bridge.model.plugin_bundle), if any
    plugin_bundle: str | None = None
    # azureml:// folder under which groups run as parallel steps keep their files, if any
    group_root: str | None = None


def display_name(rule: str, wildcards: dict[str, str]) -> str:
    if not wildcards:
        return rule
    label = f"{rule}[{','.join(f'{k}={v}' for k, v in sorted(wildcards.items()))}]"
    return shorten(label, DISPLAY_NAME_MAX)


def job_key(rule: str, outputs: tuple[str, ...]) -> str:
    """Stable across restarts of a run: the rule and the outputs identify a job in a DAG."""
    return hashlib.sha256("\0".join([rule, *sorted(outputs)]).encode()).hexdigest()[:10]


def job_name(run_id: str, facts: JobFacts) -> str:
    """Unique per run, job and attempt: a retry is a new job, a restart finds the old one."""
    rule = azure_name(facts.rule.lower(), "job")[:60]
    return f"{rule}-{run_id}-{job_key(facts.rule, facts.outputs)}-{facts.attempt}"


def job_tags(run: RunContext, facts: JobFacts, **own: str) -> dict[str, str]:
    """The user's tags and the bridge's own (those of every job, and `own`, a job type's);
    ValueError naming the job when they are more than Azure ML accepts on one job."""
    tags = {
        **run.tags,
        "snakemake_rule": shorten(facts.rule, TAG_VALUE_MAX),
        "snakemake_wildcards": shorten(
            ",".join(f"{k}={v}" for k, v in sorted(facts.wildcards.items())), TAG_VALUE_MAX
        ),
        "snakemake_attempt": str(facts.attempt),
        RUN_TAG: run.run_id,
        run_tag_key(run.run_id): "",
        **own,
    }
    if len(tags) > TAGS_MAX:
        raise ValueError(
            f"{facts.label}: {len(tags)} tags; Azure ML allows {TAGS_MAX} on a job (fewer "
            "--aml-tags)"
        )
    return tags


def run_tag_key(run_id: str) -> str:
    """A tag key only this run's jobs carry, so `ml_client.jobs.list(tag=...)` lists one run:
    Azure ML's job list filters by tag key, not by value."""
    return f"snakemake_run_{run_id}"


def _string_resource(facts: JobFacts, name: str) -> str | None:
    value = facts.resources.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{facts.label}: resource {name} must be a string, not {value!r}")
    return value


def timeout_seconds(facts: JobFacts) -> int | None:
    """Snakemake's `runtime` resource is in minutes; Azure ML's job timeout in seconds."""
    runtime = facts.resources.get("runtime")
    if runtime is None:
        return None
    if not isinstance(runtime, int) or runtime <= 0:
        raise ValueError(
            f"{facts.label}: resource runtime must be positive minutes, not {runtime!r}"
        )
    return runtime * 60


def placement(run: RunContext, facts: JobFacts) -> tuple[str | None, str | None]:
    """(compute, instance type) of a job: a cluster and no instance type (the cluster's VM size
    is what the job gets), or serverless (compute None) and an instance type."""
    pinned = _string_resource(facts, "aml_compute")
    mem_mb = facts.resources.get("mem_mb")
    if (pinned or run.compute) == SERVERLESS:
        instance_type = (
            _string_resource(facts, "aml_instance_type")
            or run.instance_type
            or choose_instance_type(run.instance_table, facts.threads, mem_mb, facts.label)
        )
        return None, instance_type
    if _string_resource(facts, "aml_instance_type"):
        raise ValueError(
            f"{facts.label}: resource aml_instance_type applies only to serverless compute; on "
            "a cluster the job gets the cluster's VM size (choose one with aml_compute)"
        )
    if not run.clusters:
        return pinned or run.compute, None
    return choose_cluster(run.clusters, facts.threads, mem_mb, facts.label, pinned).name, None


def job_environment(run: RunContext, facts: JobFacts, parallel: bool = False) -> EnvironmentSpec:
    """The Azure ML environment of a job (parallel: of a parallel step); ValueError naming the
    job."""
    try:
        return choose_environment(
            aml_environment=_string_resource(facts, "aml_environment"),
            container_image=facts.container_image,
            conda_file=facts.conda_file,
            default_environment=run.default_environment,
            base_image=run.base_image,
            pip=run.pip,
            parallel=parallel,
        )
    except ValueError as e:
        raise ValueError(f"{facts.label}: {e}") from e
