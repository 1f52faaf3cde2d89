"""The parallel step that runs Snakemake jobs as its items, spelled once.

Its items are member manifests (a folder input `members`), run by the entry script
(`member_entry.py`), one row per job that succeeded appended to the `results` output, each
job's log in the `member_logs` output. The same value gives a rule's registered component
(`to_component`, `aml-genomics setup`), a node of a pipeline (`to_node`: inline, or a
reference to the registered component with the node's own settings, as an export writes it)
and the one-step pipeline job of a group (`to_pipeline_job`, the executor's) - the azure-ai-ml
model of one class per job type with `_to_component`/`_to_node`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aml_bridge.model.environments import EnvironmentSpec
from aml_bridge.model.names import DISPLAY_NAME_MAX, shorten
from aml_bridge.model.specs.common import PLUGIN_INPUT

PIPELINE_SCHEMA = "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json"
ENTRY_SCRIPT = "member_entry.py"
MEMBERS_INPUT, RESULTS_OUTPUT, LOGS_OUTPUT = "members", "results", "member_logs"
STEP = "members"  # the node of a group's pipeline job
# Azure ML's per-call default (60 s) would kill every genomics task: without a runtime, a day.
DEFAULT_MEMBER_TIMEOUT_S = 24 * 3600
# What a node referencing a registered component sets itself (the rest is the component's)
NODE_SETTINGS = (
    "type", "display_name", "compute", "inputs", "outputs", "resources",
    "max_concurrency_per_instance", "retry_settings", "mini_batch_error_threshold",
    "environment_variables",
)  # fmt: skip


def jobs_label(rule: str, jobs: int) -> str:
    """`rule[n jobs]` (`rule[1 job]`): a step's display name."""
    return shorten(f"{rule}[{jobs} job{'s' if jobs != 1 else ''}]", DISPLAY_NAME_MAX)


def after_input(rule: str) -> str:
    """The component input that orders a node after the node of `rule`."""
    return f"after_{rule}"


def binding(side: str, name: str) -> str:
    """`${{parent.<side>.<name>}}`: a node's input or output bound to the pipeline's."""
    return f"${{{{parent.{side}.{name}}}}}"


@dataclass(frozen=True)
class ParallelStep:
    """What runs (entry script, environment, the inputs it declares) and how (nodes,
    concurrency, retries, per-call timeout, error thresholds) for `jobs` Snakemake jobs.
    `environment` None: only a node referencing a registered component (which has one)."""

    label: str
    environment: EnvironmentSpec | None = None
    compute: str | None = None  # None: a registered component (the node chooses)
    instance_count: int = 1
    max_concurrency_per_instance: int = 1
    max_retries: int = 0
    timeout_s: int = DEFAULT_MEMBER_TIMEOUT_S
    # 0: a member's mini-batch failing after its retries fails the step (stopping the others);
    # -1: every member runs to its end, the rows say which succeeded
    mini_batch_error_threshold: int = 0
    env_vars: Mapping[str, str] = field(default_factory=dict)
    plugins: bool = True  # the storage plugin folder as input `snakemake_plugins`
    after: tuple[str, ...] = ()  # rules whose `results` this step waits for (export)

    def to_component(self, code: str | None = None, inline_environment: bool = False) -> dict:
        """The parallelComponent body (no name, version or description): its inputs and outputs
        declared, the step's settings, the task; `code`: the entry script's folder, when the
        component is not registered with it."""
        if self.environment is None:
            raise ValueError(f"{self.label}: a step without environment is a node only")
        inputs: dict[str, Any] = {MEMBERS_INPUT: {"type": "uri_folder", "mode": "ro_mount"}}
        arguments = f"--logs ${{{{outputs.{LOGS_OUTPUT}}}}}"
        if self.plugins:
            inputs[PLUGIN_INPUT] = {"type": "uri_folder", "mode": "ro_mount"}
            arguments += f" --plugins ${{{{inputs.{PLUGIN_INPUT}}}}}"
        for up in self.after:
            optional = {"type": "uri_file", "optional": True, "description": f"after {up}"}
            inputs[after_input(up)] = optional
        environment = (
            self.environment.inline() if inline_environment else self.environment.registered_id
        )
        return {
            "type": "parallel",
            "inputs": inputs,
            "outputs": {
                RESULTS_OUTPUT: {"type": "uri_file", "mode": "rw_mount"},
                LOGS_OUTPUT: {"type": "uri_folder", "mode": "rw_mount"},
            },
            "input_data": f"${{{{inputs.{MEMBERS_INPUT}}}}}",
            "mini_batch_size": "1",
            "resources": {"instance_count": self.instance_count},
            "max_concurrency_per_instance": self.max_concurrency_per_instance,
            "retry_settings": {"max_retries": self.max_retries, "timeout": self.timeout_s},
            # error_threshold (failed items, counted as they fail, before retries are known)
            # stays off
            "mini_batch_error_threshold": self.mini_batch_error_threshold,
            "error_threshold": -1,
            "logging_level": "INFO",
            "task": {
                "type": "run_function",
                **({"code": code} if code else {}),
                "entry_script": ENTRY_SCRIPT,
                "environment": environment,
                "program_arguments": arguments,
                "append_row_to": f"${{{{outputs.{RESULTS_OUTPUT}}}}}",
            },
        }

    def to_node(
        self,
        inputs: Mapping[str, str],
        outputs: Mapping[str, str],
        component: str | None = None,
        code: str | None = None,
        inline_environment: bool = False,
    ) -> dict[str, Any]:
        """A pipeline node, its inputs and outputs bound as given: the registered `component`
        (`azureml:<name>:<version>`) with the node's own settings on top, or (None) the whole
        component inline."""
        node: dict[str, Any] = {
            **(self.to_component(code, inline_environment) if component is None else {}),
            "type": "parallel",
            "display_name": self.label,
            "compute": f"azureml:{self.compute}",
            "inputs": dict(inputs),
            "outputs": dict(outputs),
            "resources": {"instance_count": self.instance_count},
            "max_concurrency_per_instance": self.max_concurrency_per_instance,
            "retry_settings": {"max_retries": self.max_retries, "timeout": self.timeout_s},
            "mini_batch_error_threshold": self.mini_batch_error_threshold,
        }
        if self.env_vars:
            node["environment_variables"] = dict(self.env_vars)
        if component is None:
            return node
        return {"type": "parallel", "component": component} | {
            k: v for k, v in node.items() if k in NODE_SETTINGS
        }

    def to_pipeline_job(
        self,
        inputs: Mapping[str, dict[str, Any]],
        outputs: Mapping[str, dict[str, Any]],
        component: str | None = None,
        code: str | None = None,
        inline_environment: bool = False,
        **job: Any,
    ) -> dict[str, Any]:
        """A pipeline job of this step alone (node `members`), its inputs and outputs at the
        datastore paths given; `job`: name, display_name, experiment_name, tags."""
        node = self.to_node(
            {k: binding("inputs", k) for k in inputs},
            {k: binding("outputs", k) for k in outputs},
            component, code, inline_environment,
        )  # fmt: skip
        return {
            "$schema": PIPELINE_SCHEMA,
            "type": "pipeline",
            **job,
            # Snakemake decides what runs: Azure ML must not reuse an earlier run's node
            "settings": {"default_compute": f"azureml:{self.compute}", "force_rerun": True},
            "inputs": dict(inputs),
            "outputs": dict(outputs),
            "jobs": {STEP: node},
        }
