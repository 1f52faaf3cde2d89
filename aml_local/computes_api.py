"""Compute create/update (`ml.compute.begin_create_or_update`): AmlCompute clusters with their
VM size, node limits, idle time, tier and managed identity.

A created cluster joins the workspace's cluster list (workspace.py), gets its own queue of nodes
(scheduler.py) and its identity (identity.py); it is kept in the state, so it survives a restart.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from .context import Context
from .errors import ServiceError, bad_request
from .identity import ClusterIdentity
from .routing import Request, Response, Router
from .validation import validate
from .vm_sizes import canonical
from .workspace import Cluster

KIND = "computes"
# Compute names as the executor checks them (aml_bridge.model.settings.CLUSTER_NAME).
COMPUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,31}$")
DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$")
TIERS = {"dedicated": "Dedicated", "lowpriority": "LowPriority"}


def _seconds(text: str) -> int:
    m = DURATION.match(text or "")
    if not m or not any(m.groups()):
        raise bad_request(f"nodeIdleTimeBeforeScaleDown '{text}' is not an ISO 8601 duration.")
    hours, minutes, seconds = (int(g or 0) for g in m.groups())
    return hours * 3600 + minutes * 60 + seconds


def _identity(body: dict[str, Any], name: str) -> ClusterIdentity:
    identity = body.get("identity") or {"type": "None"}
    kind = identity.get("type", "None")
    if kind == "SystemAssigned":
        return ClusterIdentity("SystemAssigned")
    if kind == "None":
        return ClusterIdentity("None")
    if kind == "UserAssigned":
        assigned = identity.get("userAssignedIdentities") or {}
        if len(assigned) != 1:
            raise bad_request(f"Compute '{name}': give exactly one user-assigned identity.")
        (entry,) = assigned.values()
        client_id = (entry or {}).get("clientId") or f"{name}-client"
        return ClusterIdentity("UserAssigned", client_id)
    raise bad_request(
        f"Compute '{name}': identity type '{kind}' is not supported here (SystemAssigned, "
        "UserAssigned or None; both at once is not modelled)."
    )


def parse_cluster(name: str, body: dict[str, Any]) -> tuple[Cluster, ClusterIdentity]:
    """The cluster a ComputeResource body describes; 400 for what Azure ML would refuse."""
    errors = validate("ComputeResource", body)
    if errors:
        raise bad_request("Invalid compute: " + "; ".join(errors))
    if not COMPUTE_NAME.match(name):
        raise bad_request(
            f"Compute name '{name}' is invalid: 2-32 letters, digits or '-', from a letter."
        )
    props = body.get("properties") or {}
    if props.get("computeType") != "AmlCompute":
        raise bad_request(
            f"Compute '{name}': computeType '{props.get('computeType')}' is not modelled by "
            "the local service (AmlCompute only)."
        )
    aml = props.get("properties") or {}
    size = canonical(aml.get("vmSize") or "")
    if size is None:
        raise bad_request(f"Compute '{name}': VM size '{aml.get('vmSize')}' is not offered here.")
    scale = aml.get("scaleSettings") or {}
    max_nodes, min_nodes = scale.get("maxNodeCount"), scale.get("minNodeCount") or 0
    if not isinstance(max_nodes, int) or max_nodes < 1 or not 0 <= min_nodes <= max_nodes:
        raise bad_request(
            f"Compute '{name}': scaleSettings need 0 <= minNodeCount <= maxNodeCount, "
            f"maxNodeCount >= 1 (got {min_nodes}, {max_nodes})."
        )
    tier = TIERS.get(str(aml.get("vmPriority") or "Dedicated").lower())
    if tier is None:
        raise bad_request(f"Compute '{name}': vmPriority '{aml.get('vmPriority')}' is unknown.")
    idle = _seconds(scale.get("nodeIdleTimeBeforeScaleDown") or "PT120S")
    cluster = Cluster(name, size.upper(), max_nodes, tier, min_nodes, idle)
    return cluster, _identity(body, name)


def apply(ctx: Context, cluster: Cluster, identity: ClusterIdentity) -> None:
    ctx.ws.put_cluster(cluster)
    ctx.jobs.identities.clusters[cluster.name] = identity
    ctx.jobs.scheduler.resize(cluster.name, cluster.max_nodes)


def restore(ctx: Context) -> None:
    """Clusters created through the API by an earlier run of the service."""
    for doc in ctx.store.values(KIND):
        apply(ctx, *parse_cluster(doc["name"], doc["body"]))


def register(router: Router, ctx: Context) -> None:
    def put_compute(req: Request) -> Response:
        name = req.params["name"]
        body = req.json()
        cluster, identity = parse_cluster(name, body)
        existing = ctx.ws.cluster(name)
        if existing is not None:
            # Azure ML updates scale settings and identity of a cluster in place; its VM size
            # and tier are fixed at creation.
            for field, old, new in (
                ("VM size", existing.vm_size, cluster.vm_size),
                ("tier", existing.tier, cluster.tier),
            ):
                if old.lower() != new.lower():
                    raise ServiceError(
                        400, "UserError",
                        f"Compute '{name}' exists with {field} {old}; the {field} of a cluster "
                        f"cannot change ({new} asked). Create a cluster under another name.",
                    )  # fmt: skip
            cluster = replace(cluster, name=existing.name)
        ctx.store.put(KIND, cluster.name.lower(), {"name": cluster.name, "body": body})
        apply(ctx, cluster, identity)
        resource = ctx.ws.compute_resource(cluster, identity)
        return Response(200 if existing else 201, resource)

    router.add("PUT", "{WS}/computes/{name}", put_compute)
