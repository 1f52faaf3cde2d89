"""`aml-genomics setup`: compare what the workflow needs with what the workspace has, then
create or update only the difference (a second run finds nothing to do)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from aml_bridge.gateway.workspace_admin import ClusterFound, WorkspaceAdmin
from aml_bridge.model.environments import EnvironmentSpec
from aml_bridge.model.workspace_plan import (
    DEFAULT_TIER,
    DEFAULT_VM_SIZE,
    ClusterWanted,
    ComponentWanted,
)

CREATE, UPDATE, UNCHANGED, CONFLICT = "create", "update", "unchanged", "conflict"
STORAGE_ROLE = "Storage Blob Data Contributor"


@dataclass(frozen=True)
class Step:
    kind: str  # cluster, environment, component
    name: str
    action: str  # create, update, unchanged, conflict
    detail: str
    target: ClusterWanted | EnvironmentSpec | ComponentWanted | None = None

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "action": self.action, "detail": self.detail}


def cluster_step(wanted: ClusterWanted, found: ClusterFound | None) -> Step:
    """Create, update (nodes, idle time, identity) or conflict (VM size and tier are fixed)."""
    if found is None:
        wanted = replace(
            wanted, vm_size=wanted.vm_size or DEFAULT_VM_SIZE, tier=wanted.tier or DEFAULT_TIER
        )
        return Step("cluster", wanted.name, CREATE, wanted.describe(), wanted)
    wanted = replace(
        wanted, vm_size=wanted.vm_size or found.vm_size, tier=wanted.tier or found.tier
    )
    fixed = [
        f"{what} is {have} (wanted {want})"
        for what, have, want in (
            ("VM size", found.vm_size, wanted.vm_size.lower()),
            ("tier", found.tier, wanted.tier),
        )
        if have != want
    ]
    if fixed:
        detail = "; ".join(fixed) + ": a cluster keeps these for life, choose another name"
        return Step("cluster", wanted.name, CONFLICT, detail)
    changes = [
        f"{what} {have} -> {want}"
        for what, have, want in (
            ("min nodes", found.min_nodes, wanted.min_nodes),
            ("max nodes", found.max_nodes, wanted.max_nodes),
            ("idle s", found.idle_s, wanted.idle_s),
            ("identity", found.identity or "none", "system_assigned"),
        )
        if have != want and not (what == "identity" and have == "user_assigned")
    ]
    if changes:
        return Step("cluster", wanted.name, UPDATE, ", ".join(changes), wanted)
    return Step("cluster", wanted.name, UNCHANGED, wanted.describe())


def plan(
    admin: WorkspaceAdmin,
    clusters: list[ClusterWanted],
    environments: list[EnvironmentSpec],
    components: list[ComponentWanted],
) -> list[Step]:
    steps = [cluster_step(c, admin.cluster(c.name)) for c in clusters]
    for env in environments:
        there = admin.client.has_environment(env)
        steps.append(
            Step("environment", f"{env.name}:{env.version}", UNCHANGED if there else CREATE,
                 f"{env.image} + conda file", None if there else env)
        )  # fmt: skip
    for comp in components:
        there = admin.client.has_component(comp)
        steps.append(
            Step("component", f"{comp.name}:{comp.version}", UNCHANGED if there else CREATE,
                 f"rule {comp.rule} in {comp.environment.registered_id}", None if there else comp)
        )  # fmt: skip
    return steps


def apply(admin: WorkspaceAdmin, steps: list[Step]) -> None:
    """Environments before components (a component names its environment)."""
    order = {"cluster": 0, "environment": 1, "component": 2}
    for step in sorted(steps, key=lambda s: order[s.kind]):
        if step.action not in (CREATE, UPDATE):
            continue
        if isinstance(step.target, ClusterWanted):
            admin.put_cluster(step.target)
        elif isinstance(step.target, EnvironmentSpec):
            admin.client.create_environment(step.target)
        elif isinstance(step.target, ComponentWanted):
            admin.create_component(step.target)


def role_assignment(principal_id: str, storage_account_id: str) -> str:
    """The command that lets a cluster's identity read and write the datastore's account."""
    return (
        f'az role assignment create --assignee {principal_id} --role "{STORAGE_ROLE}" '
        f"--scope {storage_account_id}"
    )
