"""`aml-genomics check`: each thing a run needs from the workspace, ✓ or ✗ with its fix.

Order matters: a workspace that cannot be reached ends the check there; a probe job runs only
on a cluster that exists, with the runtime environment registered.
"""

from __future__ import annotations

import shlex
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aml_bridge.admin.check_rows import Row
from aml_bridge.admin.environment_probes import ProbeTarget, fix, judge, probe_script, probe_targets
from aml_bridge.admin.quota import ClusterQuotaNeed, quota_rows, read_usages
from aml_bridge.admin.workspace_setup import role_assignment
from aml_bridge.gateway.workspace_admin import WorkspaceAdmin
from aml_bridge.model.clusters import Cluster, choose_cluster
from aml_bridge.model.environments import EnvironmentSpec
from aml_bridge.model.group_files import GroupFiles, member_code
from aml_bridge.model.job_storage import DATASTORES_ENV
from aml_bridge.model.plugin_bundle import package_files, plugin_bundle, publish
from aml_bridge.model.specs.command import CommandJobSpec
from aml_bridge.model.specs.common import JobFacts
from aml_bridge.model.specs.pipeline import Member, PipelineJobSpec
from aml_bridge.model.workflow_rules import RuleFacts
from aml_bridge.model.workspace_plan import ComponentWanted

PROBE_PATH = ".aml-genomics/probe"
PROBE_EXPERIMENT = "aml-genomics-check"
SETUP = "run `aml-genomics setup`"


@dataclass
class CheckInputs:
    cluster_names: list[str]
    datastore: str
    prefix: str  # default storage prefix (the probe's plugin bundle goes under it)
    rules: list[RuleFacts]
    environments: list[EnvironmentSpec]
    components: list[ComponentWanted]
    # (rule, environment, conda file or what the environment is): what each probe runs in
    uses: list[tuple[str, EnvironmentSpec, str]]
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
    yield from _cluster_rows(admin, inputs, found, storage_account, ws.location)
    datastore = yield from _datastore_row(inputs, storage_account)
    registered = set()
    for env in inputs.environments:
        ok = admin.client.has_environment(env)
        if ok:
            registered.add(env.registered_id)
        yield Row(f"environment {env.name}:{env.version}", ok, "registered" if ok else "missing",
                  "" if ok else SETUP)  # fmt: skip
    for comp in inputs.components:
        ok = admin.client.has_component(comp)
        yield Row(f"component {comp.name}:{comp.version}", ok, "registered" if ok else "missing",
                  "" if ok else SETUP)  # fmt: skip
    if not inputs.probe:
        return
    targets = _targets(admin, inputs, found)
    if targets is None or datastore is None:
        yield Row("probe jobs", False, "not run: clusters or datastore not ready",
                  "fix the rows above")  # fmt: skip
        return
    runnable = [t for t in targets if t.environment.registered_id in registered]
    for t in targets:
        if t not in runnable:
            yield Row(t.check, False, "not run: environment not registered", SETUP)
    started = start_probes(admin, inputs, datastore, runnable)
    results = admin.wait_probes([job for _, job, _ in started], inputs.probe_timeout_s)
    for target, job, spec in started:
        yield _probe_row(target, results[job], spec, datastore)


def start_builds(admin: WorkspaceAdmin, inputs: CheckInputs) -> list[tuple[ProbeTarget, str]]:
    """`setup --build`: submit the probes without waiting for them, so Azure ML builds every
    environment's image before the first run needs it; (target, probe job) each."""
    from snakemake_storage_plugin_azureml.probe import open_datastore

    found = {name: admin.cluster(name) for name in inputs.cluster_names}
    targets = _targets(admin, inputs, found)
    if not targets:
        return []
    started = start_probes(admin, inputs, open_datastore(inputs.datastore), targets)
    return [(target, job) for target, job, _ in started]


def _targets(admin: WorkspaceAdmin, inputs: CheckInputs, found: dict) -> list[ProbeTarget] | None:
    """The probes the rules need (None when a cluster is missing or no rule fits)."""
    if any(c is None for c in found.values()):
        return None
    try:
        where = placements(inputs.rules, admin.client.clusters(list(found)))
    except ValueError:
        return None
    return probe_targets(inputs.uses, where)


def start_probes(
    admin: WorkspaceAdmin, inputs: CheckInputs, datastore, targets: list[ProbeTarget]
) -> list[tuple[ProbeTarget, str, PipelineJobSpec | None]]:
    """Submit every probe at once (each also starts its environment's image build): target,
    job name and, for a parallel probe, its step spec (where its member log lands)."""
    bundle = plugin_bundle(inputs.prefix, package_files())
    publish(bundle, datastore)
    env_vars = {DATASTORES_ENV: f"{inputs.datastore}={datastore.target.container_url}"}
    started = []
    for target in targets:
        name = f"probe-{uuid.uuid4().hex[:12]}"
        script = probe_script(target, inputs.datastore, f"{PROBE_PATH}/{target.cluster}")
        if target.parallel:
            step = _parallel_probe(inputs, target, name, script, bundle.uri, env_vars)
            GroupFiles(lambda _name: datastore).upload_manifests(step)
            with tempfile.TemporaryDirectory() as tmp:
                code = member_code(Path(tmp))
                started.append((target, admin.submit_probe(step.to_yaml(str(code), False)), step))
            continue
        spec = _command_probe(inputs, target, name, script, bundle.uri, env_vars)
        started.append((target, admin.submit_probe(spec.to_yaml(inline_environment=False)), None))
    return started


def _command_probe(inputs, target, name, script, bundle_uri, env_vars) -> CommandJobSpec:
    """The script in a command job, as a rule's job runs on the cluster."""
    return CommandJobSpec(
        name=name, display_name=f"aml-genomics check: {target.environment.name}",
        experiment=PROBE_EXPERIMENT, tags={}, compute=target.cluster,
        environment=target.environment, command="bash -c " + shlex.quote(script),
        env_vars=env_vars, instance_type=None, timeout_s=int(inputs.probe_timeout_s),
        low_priority=False, plugin_bundle=bundle_uri,
    )  # fmt: skip


def _parallel_probe(inputs, target, name, script, bundle_uri, env_vars) -> PipelineJobSpec:
    """One item through the parallel runtime, as a group step runs a member."""
    facts = JobFacts("aml_genomics_probe", {}, 1, 1, {}, (), script)
    return PipelineJobSpec(
        name=name, display_name=f"aml-genomics check: {target.environment.name}",
        experiment=PROBE_EXPERIMENT, tags={}, compute=target.cluster,
        environment=target.environment, env_vars=env_vars, members=(Member("probe", facts),),
        folder=f"{inputs.prefix.rstrip('/')}/{PROBE_PATH}/{name}/", instance_count=1,
        max_concurrency_per_instance=1, max_retries=0, timeout_s=int(inputs.probe_timeout_s),
        plugin_bundle=bundle_uri,
    )  # fmt: skip


def _quota_rows(admin: WorkspaceAdmin, clusters: list, location: str) -> Iterator[Row]:
    """Each cluster's maximum nodes against its VM family's and tier's free vCPU quota."""
    from azure.core.exceptions import AzureError

    try:
        families = admin.vm_families(location)
        usages = read_usages(admin.usages(location))
    except AzureError as e:
        fix = "a role that may read the subscription's Machine Learning usages (Reader)"
        yield Row("vCPU quota", False, f"not readable: {_short(e)}", fix)
        return
    needs = [
        ClusterQuotaNeed(c.name, c.vm_size, *families[c.vm_size.lower()], c.max_nodes, c.tier)
        for c in clusters
        if c.vm_size.lower() in families
    ]
    yield from quota_rows(needs, usages, location)


def _cluster_rows(admin, inputs, found, storage_account, location) -> Iterator[Row]:
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
    yield from _quota_rows(admin, [found[n] for n in existing], location)
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


def _probe_row(target: ProbeTarget, result, step: PipelineJobSpec | None, datastore) -> Row:
    output = result.output
    if step is not None:
        with tempfile.TemporaryDirectory() as tmp:
            log = GroupFiles(lambda _name: datastore).member_log(
                step, step.members[0], Path(tmp, "probe.log")
            )
            output = log.read_text() if log else ""
    outcome = judge(target, result.status, _short(result.error, 1000), output)
    if not outcome.ok:
        return Row(target.check, False, outcome.detail, fix(target, outcome))
    started = f"; node started after {result.start_s:.0f} s" if result.start_s is not None else ""
    return Row(target.check, True, f"rules {', '.join(target.rules)}: {outcome.detail}{started}")


def _short(error: object, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
