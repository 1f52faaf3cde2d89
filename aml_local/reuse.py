"""Pipeline node reuse, as Azure ML does it: a node whose definition and data are those of a
node that completed in an earlier pipeline job is not run again, unless the pipeline sets
`settings.force_rerun` (default false). The reused step ends Completed at once, its outputs
those of the earlier run (the same paths here), its run properties naming that run.

The reuse key is what Azure ML's docs name: the same component (its version or anonymous
hash, so the same code, environment and command), the same inputs and parameters, the same
settings (compute, nodes, retries, thresholds, environment variables) and the same output
paths; a node taking another node's output is reused only when that node was reused (a rerun
gives it new data). Display names do not count. Azure's exact key is not documented further.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .pipelines import JOB_OUTPUT, PARENT

REUSED = "azureml.isreused"
REUSED_FROM = "azureml.reusedrunid"
# What does not change what a node computes
IGNORED = ("name", "display_name", "description", "tags", "inputs", "outputs")


def force_rerun(pipeline: dict[str, Any]) -> bool:
    value = (pipeline.get("settings") or {}).get("force_rerun")
    return value is True or str(value).lower() == "true"


def node_keys(pipeline: dict[str, Any], definitions: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Node name → reuse key, for the nodes of one pipeline (`definitions`: each node as it
    runs, its compute resolved in `computeId`)."""
    keys: dict[str, str] = {}

    def key(node: str) -> str:
        if node not in keys:
            keys[node] = _key(pipeline, definitions[node], key)
        return keys[node]

    for node in definitions:
        key(node)
    return keys


def _key(pipeline: dict[str, Any], node: dict[str, Any], upstream_key: Any) -> str:
    inputs: dict[str, Any] = {}
    for name, value in (node.get("inputs") or {}).items():
        text = str((value or {}).get("value", ""))
        m = JOB_OUTPUT.match(text)
        if m:
            inputs[name] = {"node": upstream_key(m.group(1)), "output": m.group(2)}
        else:
            inputs[name] = _parent_value(pipeline, "inputs", text)
    outputs = {
        name: _parent_value(pipeline, "outputs", str((value or {}).get("value", "")))
        for name, value in (node.get("outputs") or {}).items()
    }
    definition = {k: v for k, v in node.items() if k not in IGNORED}
    doc = {"definition": definition, "inputs": inputs, "outputs": outputs}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _parent_value(pipeline: dict[str, Any], side: str, text: str) -> Any:
    """What a `${{parent.<side>.x}}` binding stands for: the pipeline input or output itself
    (type, path or literal value, mode), not its name."""
    m = PARENT.match(text)
    if not m:
        return text
    value = dict((pipeline.get(side) or {}).get(m.group(2)) or {})
    value.pop("description", None)
    return value
