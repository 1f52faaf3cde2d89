"""`aml-genomics check`: each thing a run needs from the workspace, ✓ or ✗ with its fix.

Order matters: a workspace that cannot be reached ends the check there; a probe job runs only
on a cluster that exists, with the runtime environment registered.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aml_bridge.clusters import Cluster, choose_cluster
from aml_bridge.environments import EnvironmentSpec
from aml_bridge.job_storage import DATASTORES_ENV
from aml_bridge.plugin_bundle import package_files, plugin_bundle, publish
from aml_bridge.specs.command import SCHEMA
from aml_bridge.specs.common import PLUGIN_INPUT, PLUGIN_PATH_EXPORT
from aml_bridge.workflow_rules import RuleFacts
from aml_bridge.workspace_admin import WorkspaceAdmin
from aml_bridge.workspace_plan import ComponentWanted
from aml_bridge.workspace_setup import role_assignment

PROBE_PATH = ".aml-genomics/probe"
PROBE_EXPERIMENT = "aml-genomics-check"
SETUP = "run `aml-genomics setup`"


@dataclass(frozen=True)
class Row:
    check: str
    ok: bool
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail, "fix": self.fix}


@dataclass
class CheckInputs:
    cluster_names: list[str]
    datastore: str
    prefix: str  # default storage prefix (the probe's plugin bundle goes under it)
    rules: list[RuleFacts]
    environments: list[EnvironmentSpec]
    components: list[ComponentWanted]
    runtime: EnvironmentSpec  # the probe job's environment
    probe_timeout_s: float = 900.0
    probe: bool = True


def placements(rules: list[RuleFacts], clusters: tuple[Cluster, ...]) -> dict[str, str]:
    """Rule → its cluster, as the executor chooses (a rule with per-job sizes: by its threads);
    ValueError naming the first rule that fits no cluster."""
    return {
        r.name: choose_cluster(
            clusters, r.threads or 1, r.mem_mb, f"rule {r.name}", r.aml_compute
        ).name
        for r in rules
    }


def run_checks(admin: WorkspaceAdmin, inputs: CheckInputs) -> Iterator[Row]:
    from azure.core.exceptions import AzureError

    settings = admin.client.settings
    try:
        ws = admin.workspace()
    except (AzureError, ValueError) as e:
        yield Row(
            f"workspace {settings.workspace}", False, f"not reachable: {_short(e)}",
            "az login; check --aml-subscription, --aml-resource-group, --aml-workspace "
            "(or SNAKEMAKE_AML_*)",
        )  # fmt: skip
        return
    yield Row(f"workspace {ws.name}", True, f"reachable ({ws.location})")
    storage_account = getattr(ws, "storage_account", None) or "<storage account id>"
    found = {name: admin.cluster(name) for name in inputs.cluster_names}
    yield from _cluster_rows(admin, inputs, found, storage_account)
    datastore = yield from _datastore_row(inputs, storage_account)
    runtime_ok = True
    for env in inputs.environments:
        ok = admin.has_environment(env)
        runtime_ok &= ok or env != inputs.runtime
        yield Row(f"environment {env.name}:{env.version}", ok, "registered" if ok else "missing",
                  "" if ok else SETUP)  # fmt: skip
    for comp in inputs.components:
        ok = admin.has_component(comp)
        yield Row(f"component {comp.name}:{comp.version}", ok, "registered" if ok else "missing",
                  "" if ok else SETUP)  # fmt: skip
    if not inputs.probe:
        return
    for name, cluster in found.items():
        check = f"probe job on {name}"
        if cluster is None or datastore is None or not runtime_ok:
            why = "cluster missing" if cluster is None else "datastore or runtime environment"
            yield Row(check, False, f"not run: {why} not ready", "fix the rows above")
            continue
        yield _probe_row(admin, inputs, name, datastore, storage_account, cluster.principal_id)


def _cluster_rows(admin, inputs, found, storage_account) -> Iterator[Row]:
    for name, cluster in found.items():
        if cluster is None:
            yield Row(f"cluster {name}", False, "does not exist", SETUP)
            continue
        nodes = f"{cluster.min_nodes}-{cluster.max_nodes} nodes"
        yield Row(f"cluster {name}", True, f"{cluster.vm_size}, {nodes}, {cluster.tier}")
        if cluster.identity:
            yield Row(f"cluster {name} identity", True, cluster.identity)
        else:
            grant = role_assignment("<its principal id>", storage_account)
            yield Row(
                f"cluster {name} identity", False, "none: its jobs cannot reach storage",
                f"az ml compute update -n {name} --identity-type SystemAssigned (or "
                f"`aml-genomics setup`), then {grant}",
            )  # fmt: skip
    existing = [n for n, c in found.items() if c is not None]
    if not existing:
        return
    try:
        sized = admin.client.clusters(existing)
        where = placements(inputs.rules, sized)
    except ValueError as e:
        yield Row("rules fit the clusters", False, str(e),
                  "add a cluster with a bigger VM size to --aml-clusters, or pin the rule "
                  "(resource aml_compute) to one that fits")  # fmt: skip
        return
    by_cluster: dict[str, list[str]] = {}
    for rule, cluster_name in where.items():
        by_cluster.setdefault(cluster_name, []).append(rule)
    detail = "; ".join(f"{c}: {', '.join(rules)}" for c, rules in by_cluster.items())
    yield Row("rules fit the clusters", True, detail)


def _datastore_row(inputs: CheckInputs, storage_account: str):
    from snakemake_storage_plugin_azureml.probe import open_datastore, probe

    check = f"datastore {inputs.datastore} from here"
    try:
        datastore = open_datastore(inputs.datastore)
        probe(datastore, PROBE_PATH)
    except Exception as e:  # any reason storage is not usable is the row's detail
        grant = role_assignment("<your object id>", storage_account)
        yield Row(check, False, _short(e), f"sign in (az login) and {grant}")
        return None
    yield Row(check, True, f"read and write ({datastore.target.container_url})")
    return datastore


def _probe_row(admin, inputs, cluster, datastore, storage_account, principal) -> Row:
    bundle = plugin_bundle(inputs.prefix, package_files())
    publish(bundle, datastore)
    spec = {
        "$schema": SCHEMA,
        "type": "command",
        "name": f"probe-{cluster}-{uuid.uuid4().hex[:8]}",
        "display_name": f"aml-genomics check: storage from {cluster}",
        "experiment_name": PROBE_EXPERIMENT,
        "compute": f"azureml:{cluster}",
        "environment": inputs.runtime.registered_id,
        "command": PLUGIN_PATH_EXPORT + "python -m snakemake_storage_plugin_azureml.probe "
        f"{inputs.datastore} {PROBE_PATH}/{cluster}",
        "inputs": {PLUGIN_INPUT: {"type": "uri_folder", "path": bundle.uri, "mode": "ro_mount"}},
        "environment_variables": {
            DATASTORES_ENV: f"{inputs.datastore}={datastore.target.container_url}"
        },
        "limits": {"timeout": int(inputs.probe_timeout_s)},
    }
    result = admin.run_probe(spec, inputs.probe_timeout_s)
    check = f"probe job on {cluster}"
    started = f"node started after {result.start_s:.0f} s" if result.start_s is not None else ""
    if result.status == "Completed":
        return Row(
            check, True, f"read and wrote {inputs.datastore} as the cluster identity; {started}"
        )
    reason = _probe_error(result.output) or result.status
    return Row(check, False, f"{result.status}: {reason}",
               role_assignment(principal or "<cluster principal id>", storage_account))  # fmt: skip


def _probe_error(output: str) -> str:
    for line in reversed(output.splitlines()):
        if line.startswith('{"ok": false'):
            return _short(line)
    return ""


def _short(error: object, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
