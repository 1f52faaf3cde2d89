"""What Azure ML checks when a job is submitted, beyond the body's shape: names and tags within
Azure ML's limits, references to the compute, environment, code and datastores exist, data URIs
parse, placeholders are declared."""

from __future__ import annotations

import re
from typing import Any

from .bindings import DataRef, duration_seconds, parse_data_uri, placeholders
from .errors import ServiceError, bad_request
from .runner import InputBinding, JobPlan, OutputBinding
from .store import Store
from .validation import check_name
from .workspace import BLOB_DATASTORE, Cluster, Workspace

_ASSET_ID = re.compile(
    r"/(?P<kind>environments|codes|components)/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$"
)
INPUT_MODES = {None, "ro_mount", "download", "ReadOnlyMount", "Download"}
OUTPUT_MODES = {None, "rw_mount", "upload", "ReadWriteMount", "Upload"}
DATA_KINDS = {"uri_file", "uri_folder"}


def _asset(store: Store, ws: Workspace, kind: str, arm_id: str, field: str) -> str:
    """The `name/version` key of a registered asset referenced by ARM id; 400 otherwise."""
    m = _ASSET_ID.search(arm_id or "")
    if not m or m.group("kind") != kind or not arm_id.lower().startswith(ws.arm_id.lower()):
        raise bad_request(f"{field}: {arm_id!r} is not a {kind[:-1]} of this workspace.")
    key = f"{m.group('name')}/{m.group('version')}"
    if store.get(kind, key) is None:
        label = kind[:-1].capitalize()
        raise bad_request(
            f"{field}: {label} '{m.group('name')}:{m.group('version')}' is not registered "
            "in this workspace; register it first."
        )
    return key


# Azure ML's limits (REST specs; resource-limits-capacity.md)
DISPLAY_NAME_MAX = 256
EXPERIMENT_NAME = re.compile(r"^[\x20-\x7e]{1,256}$")
TAGS_MAX, TAG_KEY_MAX, TAG_VALUE_MAX = 50, 100, 1000


def check_job_names(name: str, props: dict[str, Any]) -> None:
    """The name, display name, experiment name and tags of a job body, as Azure ML limits them."""
    check_name("Job", name)
    display = props.get("displayName")
    if display is not None and len(str(display)) > DISPLAY_NAME_MAX:
        raise bad_request(
            f"properties.displayName has {len(str(display))} characters; "
            f"at most {DISPLAY_NAME_MAX} are allowed."
        )
    experiment = props.get("experimentName")
    if experiment is not None and not EXPERIMENT_NAME.match(str(experiment)):
        raise bad_request(
            f"properties.experimentName '{experiment}' is invalid: 1-256 printable ASCII "
            "characters are allowed."
        )
    tags = props.get("tags") or {}
    if len(tags) > TAGS_MAX:
        raise bad_request(f"properties.tags: {len(tags)} tags; at most {TAGS_MAX} are allowed.")
    for key, value in tags.items():
        if len(key) > TAG_KEY_MAX:
            raise bad_request(
                f"properties.tags: key '{key[:40]}...' has {len(key)} characters; "
                f"at most {TAG_KEY_MAX} are allowed."
            )
        if value is not None and len(str(value)) > TAG_VALUE_MAX:
            raise bad_request(
                f"properties.tags.{key}: the value has {len(str(value))} characters; "
                f"at most {TAG_VALUE_MAX} are allowed."
            )


def job_cluster(ws: Workspace, compute_id: str | None) -> Cluster:
    """The cluster a job names (the default one when it names none); 400 for an unknown one."""
    if not compute_id:
        return ws.clusters[0]
    name = compute_id.rstrip("/").split("/")[-1]
    cluster = ws.cluster(name)
    if cluster is None:
        available = ", ".join(c.name for c in ws.clusters)
        raise ServiceError(
            400,
            "UserError",
            f"properties.computeId: compute '{name}' was not found in workspace "
            f"'{ws.name}' (available: {available}).",
        )
    return cluster


def _data_ref(uri: str, where: str, datastores: set[str]) -> DataRef:
    ref = parse_data_uri(uri, where)
    if ref.datastore not in datastores:
        raise bad_request(f"{where}: datastore '{ref.datastore}' does not exist in this workspace.")
    return ref


def check_command_job(
    name: str, props: dict[str, Any], ws: Workspace, store: Store, datastores: set[str]
) -> dict[str, Any]:
    """Validate a command job's references; return its properties with default outputs filled."""
    cluster = job_cluster(ws, props.get("computeId"))
    env_id = props["environmentId"]
    if not env_id.startswith("azureml://registries/"):
        _asset(store, ws, "environments", env_id, "properties.environmentId")
    if props.get("codeId"):
        _asset(store, ws, "codes", props["codeId"], "properties.codeId")
    count = (props.get("resources") or {}).get("instanceCount") or 1
    if count > cluster.max_nodes:
        raise bad_request(
            f"properties.resources.instanceCount: {count} nodes requested but compute "
            f"'{cluster.name}' has at most {cluster.max_nodes}."
        )
    if (props.get("limits") or {}).get("timeout"):
        duration_seconds(props["limits"]["timeout"])
    inputs = props.get("inputs") or {}
    outputs = check_bindings(name, inputs, props.get("outputs") or {}, datastores)
    for side, ref in placeholders(props["command"]):
        if ref not in (inputs if side == "inputs" else outputs):
            raise bad_request(
                f"properties.command: '${{{{{side}.{ref}}}}}' refers to an undeclared {side[:-1]}."
            )
    return {**props, "outputs": outputs} if outputs else props


def check_bindings(
    name: str, inputs: dict[str, Any], outputs: dict[str, Any], datastores: set[str]
) -> dict[str, Any]:
    """Check a job's data inputs and outputs; the outputs, those without a URI given the
    default one Azure ML gives them (azureml/<job>/<output> on the blob datastore)."""
    outputs = dict(outputs)
    for key, spec in inputs.items():
        where = f"properties.inputs.{key}"
        if spec["jobInputType"] == "literal":
            continue
        if spec["jobInputType"] not in DATA_KINDS:
            raise bad_request(f"{where}: input type {spec['jobInputType']!r} is not supported.")
        if spec.get("mode") not in INPUT_MODES:
            raise bad_request(f"{where}: mode {spec['mode']!r} is not supported for inputs.")
        _data_ref(spec["uri"], f"{where}.uri", datastores)
    for key, spec in outputs.items():
        where = f"properties.outputs.{key}"
        if spec["jobOutputType"] not in DATA_KINDS:
            raise bad_request(f"{where}: output type {spec['jobOutputType']!r} is not supported.")
        if spec.get("mode") not in OUTPUT_MODES:
            raise bad_request(f"{where}: mode {spec['mode']!r} is not supported for outputs.")
        if spec.get("uri"):
            _data_ref(spec["uri"], f"{where}.uri", datastores)
        else:
            tail = f"/{key}" if spec["jobOutputType"] == "uri_file" else "/"
            default = DataRef(BLOB_DATASTORE, f"azureml/{name}/{key}{tail}")
            outputs[key] = {**spec, "uri": default.uri()}
    return outputs


def plan_job(name: str, props: dict[str, Any], code: tuple[str, str] | None) -> JobPlan:
    """The runnable plan of an already-checked command job."""
    inputs = []
    for key, spec in (props.get("inputs") or {}).items():
        kind = spec["jobInputType"]
        if kind == "literal":
            inputs.append(InputBinding(key, kind, value=str(spec.get("value", ""))))
        else:
            inputs.append(InputBinding(key, kind, parse_data_uri(spec["uri"], key)))
    outputs = [
        OutputBinding(key, spec["jobOutputType"], parse_data_uri(spec["uri"], key))
        for key, spec in (props.get("outputs") or {}).items()
    ]
    timeout = (props.get("limits") or {}).get("timeout")
    return JobPlan(
        name=name,
        command=props["command"],
        environment=dict(props.get("environmentVariables") or {}),
        inputs=inputs,
        outputs=outputs,
        code=code,
        timeout_s=duration_seconds(timeout) if timeout else None,
    )
