"""Pipeline jobs with parallel steps: what Azure ML checks on submission, a step's runnable
plan, the order of the steps, and the pipeline's status derived from its steps.

The SDK sends a pipeline's nodes (`properties.jobs`) as untyped dicts with snake_case keys
except `componentId` / `computeId`. A node defined inline is registered first as an anonymous
component (its `task.code` as a code asset) and repeats its definition; a node referencing a
registered component (`component: azureml:name:version`) carries only what it overrides, the
rest comes from the component (`node_definition`). Each node runs as a child run of the
pipeline (a step), once every node it takes an input from (`${{parent.jobs.<node>.outputs.x}}`)
has completed: Azure ML orders nodes by data bindings only. The local service runs
`type: parallel` nodes whose inputs are bound to the pipeline's inputs or to other nodes'
outputs and whose outputs are bound to the pipeline's; other node types are refused by name.
"""

from __future__ import annotations

import re
from typing import Any

from .bindings import parse_data_uri, placeholders
from .errors import bad_request
from .job_checks import _asset, check_bindings, job_cluster
from .parallel_runtime import ParallelSettings
from .runner import InputBinding, JobPlan, OutputBinding
from .store import Store
from .workspace import Workspace

PARENT = re.compile(r"^\$\{\{\s*parent\.(inputs|outputs)\.(\w+)\s*\}\}$")
JOB_OUTPUT = re.compile(r"^\$\{\{\s*parent\.jobs\.(\w+)\.outputs\.(\w+)\s*\}\}$")
# What a node may take from its component and override (REST node keys, snake_case)
DEFINITION = (
    "task", "input_data", "mini_batch_size", "resources", "max_concurrency_per_instance",
    "retry_settings", "mini_batch_error_threshold", "error_threshold", "logging_level",
    "environment_variables",
)  # fmt: skip
MERGED = ("resources", "retry_settings", "environment_variables")  # merged key by key
NODE_REF = re.compile(r"^\$\{\{\s*(inputs|outputs)\.(\w+)\s*\}\}$")
LOGGING_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
# Azure ML's defaults for a parallel node (CLI v2 parallel job YAML reference)
DEFAULT_RETRIES, DEFAULT_TIMEOUT_S = 2, 60
MAX_TIMEOUT_S = 259200  # retry_settings.timeout: (0, 259200] s (same reference)
FAILED_MESSAGE = (
    "Pipeline has failed child jobs. Failed nodes: {nodes}. For more details and logs, please "
    "go to the job detail page and check the child jobs."
)


def _value(node: dict[str, Any], key: str, default: Any) -> Any:
    value = node.get(key)
    return default if value is None else value


def _int(node: dict[str, Any], key: str, where: str, minimum: int, default: int) -> int:
    value = _value(node, key, default)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise bad_request(f"{where}.{key}: {value!r} is not an integer >= {minimum}.")
    return value


def _asset_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise bad_request(f"{where}: required field is missing")
    return value.removeprefix("azureml:")


def _binding(
    value: Any, side: str, parent: dict[str, Any], nodes: dict[str, Any], where: str
) -> None:
    """A node input or output: bound to a pipeline one that exists, or (inputs) to an output
    of another node; the local service keeps node outputs on the pipeline's paths, so such an
    output must itself be bound to a pipeline output."""
    kind_key = "job_input_type" if side == "inputs" else "type"
    if not isinstance(value, dict):
        raise bad_request(f"{where}: expected an object.")
    text = str(value.get("value", ""))
    m = PARENT.match(text)
    if value.get(kind_key) == "literal" and m:
        if m.group(1) != side or m.group(2) not in parent:
            raise bad_request(f"{where}: '{text}' refers to an undeclared pipeline {side[:-1]}.")
        return
    m = JOB_OUTPUT.match(text)
    if side == "inputs" and value.get(kind_key) == "literal" and m:
        node, output = m.groups()
        if node not in nodes:
            raise bad_request(f"{where}: '{text}' refers to node '{node}', which does not exist.")
        bound = (nodes[node].get("outputs") or {}).get(output)
        if not isinstance(bound, dict) or not PARENT.match(str(bound.get("value", ""))):
            raise bad_request(
                f"{where}: '{text}': output '{output}' of node '{node}' is not bound to a "
                "pipeline output (the local service supports node-to-node bindings only then)."
            )
        return
    if value.get(kind_key) == "literal" and "${{" in text:
        raise bad_request(
            f"{where}: binding '{text}' is not supported by the local service (only "
            "${{parent.inputs.x}}, ${{parent.outputs.x}}, ${{parent.jobs.<node>.outputs.x}})."
        )
    if side == "outputs" or value.get(kind_key) != "literal":
        raise bad_request(
            f"{where}: bind the node's {side[:-1]} to a pipeline {side[:-1]} "
            "(${{parent." + side + ".x}}); the local service supports nothing else."
        )


def node_definition(
    node: dict[str, Any], where: str, ws: Workspace, store: Store
) -> dict[str, Any]:
    """The node as it runs: its component's definition with what the node sets on top, plus
    the component's declared inputs and outputs (`declared_inputs`, `declared_outputs`)."""
    key = _asset(store, ws, "components", node.get("componentId", ""), f"{where}.componentId")
    spec = store.get("components", key)["properties"].get("componentSpec") or {}
    if spec.get("type") != node.get("type"):
        raise bad_request(
            f"{where}.type: {node.get('type')!r} node, but component {key.replace('/', ':')} "
            f"is of type {spec.get('type')!r}."
        )
    merged = {k: spec[k] for k in DEFINITION if spec.get(k) is not None}
    for k in DEFINITION:
        value = node.get(k)
        if value is None:
            continue
        both = k in MERGED and isinstance(value, dict) and isinstance(merged.get(k), dict)
        merged[k] = {**merged[k], **value} if both else value
    return {
        **node, **merged,
        "declared_inputs": spec.get("inputs") or {},
        "declared_outputs": spec.get("outputs") or {},
    }  # fmt: skip


def upstream_nodes(node: dict[str, Any]) -> set[str]:
    """The nodes whose outputs this node takes as inputs (it runs after them)."""
    values = (str((v or {}).get("value", "")) for v in (node.get("inputs") or {}).values())
    return {m.group(1) for m in map(JOB_OUTPUT.match, values) if m}


def check_pipeline_job(
    name: str, props: dict[str, Any], ws: Workspace, store: Store, datastores: set[str]
) -> dict[str, Any]:
    """Validate a pipeline job; return its properties with default outputs filled."""
    inputs = props.get("inputs") or {}
    outputs = check_bindings(name, inputs, props.get("outputs") or {}, datastores)
    nodes = props.get("jobs")
    if not isinstance(nodes, dict) or not nodes:
        raise bad_request("properties.jobs: a pipeline job needs at least one node.")
    default_compute = (props.get("settings") or {}).get("default_compute")
    for node_name, node in nodes.items():
        where = f"properties.jobs.{node_name}"
        if not isinstance(node, dict):
            raise bad_request(f"{where}: expected an object.")
        if node.get("type") != "parallel":
            raise bad_request(
                f"{where}.type: {node.get('type')!r} nodes are not supported by the local "
                "service (only parallel)."
            )
        definition = node_definition(node, where, ws, store)
        compute = node.get("computeId") or default_compute
        if not compute:
            raise bad_request(f"{where}: no compute (computeId or settings.default_compute).")
        cluster = job_cluster(ws, compute)
        _check_parallel(definition, where, cluster.max_nodes, cluster.name, ws, store)
        for side, parent in (("inputs", inputs), ("outputs", outputs)):
            declared = definition[f"declared_{side}"]
            bound = node.get(side) or {}
            for key, value in bound.items():
                if key not in declared:
                    raise bad_request(
                        f"{where}.{side}.{key}: the node's component has no {side[:-1]} '{key}'."
                    )
                _binding(value, side, parent, nodes, f"{where}.{side}.{key}")
            required = [
                k for k, d in declared.items()
                if side == "inputs" and k not in bound and not (d or {}).get("optional")
            ]  # fmt: skip
            if required:
                raise bad_request(f"{where}.inputs: required input(s) {required} not provided.")
    _check_acyclic(nodes)
    return {**props, "outputs": outputs} if outputs else props


def _check_acyclic(nodes: dict[str, Any]) -> None:
    left = {name: upstream_nodes(node) for name, node in nodes.items()}
    while left:
        ready = [name for name, ups in left.items() if not ups & left.keys()]
        if not ready:
            raise bad_request(
                f"properties.jobs: nodes {sorted(left)} depend on each other in a cycle."
            )
        for name in ready:
            del left[name]


def _check_parallel(
    node: dict[str, Any], where: str, max_nodes: int, cluster: str, ws: Workspace, store: Store
) -> None:
    task = node.get("task")
    if not isinstance(task, dict) or task.get("type") != "run_function":
        raise bad_request(f"{where}.task: a parallel node needs a task of type run_function.")
    _asset(
        store, ws, "codes", _asset_id(task.get("code"), f"{where}.task.code"), f"{where}.task.code"
    )
    env = _asset_id(task.get("environment"), f"{where}.task.environment")
    if not env.startswith("azureml://registries/"):
        _asset(store, ws, "environments", env, f"{where}.task.environment")
    if not isinstance(task.get("entry_script"), str) or not task["entry_script"]:
        raise bad_request(f"{where}.task.entry_script: required field is missing")
    node_inputs, node_outputs = node.get("inputs") or {}, node.get("outputs") or {}
    m = NODE_REF.match(str(node.get("input_data", "")))
    if not m or m.group(1) != "inputs" or m.group(2) not in node_inputs:
        raise bad_request(
            f"{where}.input_data: {node.get('input_data')!r} must be ${{{{inputs.<name>}}}} "
            "of a declared node input."
        )
    row_to = task.get("append_row_to")
    if row_to is not None:
        m = NODE_REF.match(str(row_to))
        if not m or m.group(1) != "outputs" or m.group(2) not in node_outputs:
            raise bad_request(
                f"{where}.task.append_row_to: {row_to!r} must be ${{{{outputs.<name>}}}} of a "
                "declared node output."
            )
    for side, ref in placeholders(str(task.get("program_arguments") or "")):
        if ref not in (node_inputs if side == "inputs" else node_outputs):
            raise bad_request(
                f"{where}.task.program_arguments: '${{{{{side}.{ref}}}}}' refers to an "
                f"undeclared {side[:-1]}."
            )
    count = _int(node.get("resources") or {}, "instance_count", f"{where}.resources", 1, 1)
    if count > max_nodes:
        raise bad_request(
            f"{where}.resources.instance_count: {count} nodes requested but compute "
            f"'{cluster}' has at most {max_nodes}."
        )
    _int(node, "mini_batch_size", where, 1, 1)
    _int(node, "max_concurrency_per_instance", where, 1, 1)
    _int(node, "mini_batch_error_threshold", where, -1, -1)
    _int(node, "error_threshold", where, -1, -1)
    retry = node.get("retry_settings") or {}
    _int(retry, "max_retries", f"{where}.retry_settings", 0, DEFAULT_RETRIES)
    timeout = _int(retry, "timeout", f"{where}.retry_settings", 1, DEFAULT_TIMEOUT_S)
    if timeout > MAX_TIMEOUT_S:
        raise bad_request(
            f"{where}.retry_settings.timeout: {timeout} is out of range (0, {MAX_TIMEOUT_S}] "
            "seconds."
        )
    level = _value(node, "logging_level", "INFO")
    if level not in LOGGING_LEVELS:
        raise bad_request(
            f"{where}.logging_level: {level!r} is not one of {sorted(LOGGING_LEVELS)}."
        )
    env_vars = node.get("environment_variables") or {}
    if not isinstance(env_vars, dict):
        raise bad_request(f"{where}.environment_variables: expected an object.")


def step_nodes(node: dict[str, Any]) -> int:
    return int((node.get("resources") or {}).get("instance_count") or 1)


def step_plan(
    step: str,
    pipeline: dict[str, Any],
    node: dict[str, Any],
    code: tuple[str, str],
    default_timeout_s: float = DEFAULT_TIMEOUT_S,
) -> tuple[JobPlan, ParallelSettings, str]:
    """(the step's files and environment, its runtime settings, its items' input name).
    `default_timeout_s`: a run() call's limit when the node sets no retry_settings.timeout."""
    inputs, outputs = [], []
    for key, value in (node.get("inputs") or {}).items():
        m = JOB_OUTPUT.match(value["value"])
        if m:  # another node's output: where that node's output is bound
            bound = pipeline["jobs"][m.group(1)]["outputs"][m.group(2)]["value"]
            parent = pipeline["outputs"][PARENT.match(bound).group(2)]
            ref = parse_data_uri(parent["uri"], key)
            inputs.append(InputBinding(key, parent["jobOutputType"], ref))
            continue
        parent = pipeline["inputs"][PARENT.match(value["value"]).group(2)]
        if parent["jobInputType"] == "literal":
            inputs.append(InputBinding(key, "literal", value=str(parent.get("value", ""))))
        else:
            inputs.append(
                InputBinding(key, parent["jobInputType"], parse_data_uri(parent["uri"], key))
            )
    for key, value in (node.get("outputs") or {}).items():
        parent = pipeline["outputs"][PARENT.match(value["value"]).group(2)]
        outputs.append(
            OutputBinding(key, parent["jobOutputType"], parse_data_uri(parent["uri"], key))
        )
    task, retry = node["task"], node.get("retry_settings") or {}
    env = {str(k): str(v) for k, v in (node.get("environment_variables") or {}).items()}
    plan = JobPlan(step, "", env, inputs, outputs, code)
    settings = ParallelSettings(
        entry_script=task["entry_script"],
        program_arguments=str(task.get("program_arguments") or "").split(),
        mini_batch_size=int(_value(node, "mini_batch_size", 1)),
        instance_count=step_nodes(node),
        max_concurrency_per_instance=int(_value(node, "max_concurrency_per_instance", 1)),
        max_retries=int(_value(retry, "max_retries", DEFAULT_RETRIES)),
        timeout_s=float(_value(retry, "timeout", default_timeout_s)),
        mini_batch_error_threshold=int(_value(node, "mini_batch_error_threshold", -1)),
        error_threshold=int(_value(node, "error_threshold", -1)),
        logging_level=_value(node, "logging_level", "INFO"),
    )
    return plan, settings, NODE_REF.match(node["input_data"]).group(2)


def pipeline_status(steps: dict[str, str]) -> tuple[str, dict[str, str] | None]:
    """(status, error) of a pipeline from its steps' statuses (node name → status)."""
    statuses = set(steps.values())
    if statuses - {"Completed", "Failed", "Canceled"}:
        return "Running", None
    failed = sorted(node for node, status in steps.items() if status == "Failed")
    if failed:
        nodes = ", ".join(f"/{n}" for n in failed)
        return "Failed", {"code": "UserError", "message": FAILED_MESSAGE.format(nodes=nodes)}
    if "Canceled" in statuses:
        return "Canceled", None
    return "Completed", None
