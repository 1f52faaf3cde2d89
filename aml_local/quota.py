"""vCPU quotas per VM family and priority, as `GET .../locations/{loc}/usages` lists them, and
what they do to jobs.

Azure counts a cluster's allocated nodes against its subscription's quota of the VM family
(dedicated) and the regional totals (dedicated; low priority, whose families have no limit of
their own: -1). A job whose nodes need more vCPUs than a limit allows can never start: it fails
with JobNodeCountExceedsCoreQuota. A job that fits the limit, but not what other nodes leave
free, waits in Queued until nodes are released or the quota is raised. Limits are generous by
default; `PUT /_local/quota` sets one (the body shape: `set_limit`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .vm_sizes import VM_SIZES, canonical
from .workspace import LOCATION, PROVIDER, Workspace

TIERS = ("Dedicated", "LowPriority")
TOTAL = "total"  # the regional limit of a tier, over all families
DEFAULT_LIMITS = {("Dedicated", TOTAL): 1000, ("LowPriority", TOTAL): 1000}
DEFAULT_FAMILY_LIMIT = {"Dedicated": 1000, "LowPriority": -1}
QUOTA_DOCS = (
    "https://docs.microsoft.com/azure/machine-learning/how-to-manage-quotas#request-quota-increases"
)


def family_label(family: str) -> str:
    """standardDSv3Family → Standard DSv3 Family (as usage names spell it)."""
    core = family.removeprefix("standard").removesuffix("Family")
    return f"Standard {core} Family"


def _total_label(tier: str) -> str:
    return f"Total Cluster {tier} Regional vCPUs"


def _family_usage_label(family: str, tier: str) -> str:
    return f"{family_label(family)} Cluster {tier} vCPUs"


class Quotas:
    """Limits per (tier, family or TOTAL); usage from the nodes clusters hold (`in_use`)."""

    def __init__(self, ws: Workspace, in_use: Callable[[], dict[str, int]]) -> None:
        self.ws, self._in_use = ws, in_use
        self._lock = threading.Lock()
        self._limits: dict[tuple[str, str], int] = dict(DEFAULT_LIMITS)

    def set_limit(self, body: dict[str, Any]) -> dict[str, Any]:
        """`{"tier": "Dedicated"|"LowPriority", "family": "standardDSv3Family"|"total",
        "limit": N}` (-1: no limit of its own); ValueError saying what is wrong."""
        tier, family, limit = body.get("tier"), body.get("family"), body.get("limit")
        if tier not in TIERS:
            raise ValueError(f"tier must be one of {', '.join(TIERS)}, not {tier!r}")
        families = {f for f, _, _ in VM_SIZES.values()}
        if family != TOTAL and family not in families:
            raise ValueError(f"family must be '{TOTAL}' or one of {sorted(families)}")
        if not isinstance(limit, int) or limit < -1:
            raise ValueError("limit must be an integer, -1 or more")
        with self._lock:
            self._limits[(tier, family)] = limit
        return {"tier": tier, "family": family, "limit": limit}

    def _limit(self, tier: str, family: str) -> int:
        with self._lock:
            return self._limits.get((tier, family), DEFAULT_FAMILY_LIMIT[tier])

    def _cluster_size(self, cluster_name: str) -> tuple[str, str, int]:
        """(tier, family, vCPUs per node) of a cluster."""
        cluster = next(c for c in self.ws.clusters if c.name == cluster_name)
        family, cores, _memory = VM_SIZES[canonical(cluster.vm_size) or ""]
        return cluster.tier, family, cores

    def _usage(self) -> dict[tuple[str, str], int]:
        """vCPUs held per (tier, family) and (tier, TOTAL)."""
        used: dict[tuple[str, str], int] = {}
        for name, nodes in self._in_use().items():
            tier, family, cores = self._cluster_size(name)
            for key in ((tier, family), (tier, TOTAL)):
                used[key] = used.get(key, 0) + nodes * cores
        return used

    def _limits_of(self, tier: str, family: str) -> list[tuple[str, str, int]]:
        """(key, label, limit) of the limits a node of the family and tier counts against."""
        return [
            (key, label, limit)
            for key, label in ((family, f"{family_label(family)} {tier}"), (TOTAL, f"total {tier}"))
            if (limit := self._limit(tier, key)) >= 0
        ]

    def refusal(self, cluster_name: str, nodes: int) -> str | None:
        """Why a job of `nodes` nodes on the cluster can never start (more vCPUs than a limit),
        in Azure ML's words; None when it fits."""
        tier, family, cores = self._cluster_size(cluster_name)
        need = nodes * cores
        for _key, label, limit in self._limits_of(tier, family):
            if need > limit:
                return (
                    "Job submission to AzureML Compute encountered an Exception with status "
                    f"code JobNodeCountExceedsCoreQuota, The specified subscription has a "
                    f"{label} vCPU quota of {limit} and is less than the requested job "
                    f"node count of {nodes} which maps to {need} vCPUs. Talk to your "
                    f"Subscription Admin or refer to {QUOTA_DOCS} to increase the {label} "
                    "vCPU quota"
                )
        return None

    def room(self, cluster_name: str, nodes: int) -> bool:
        """Whether the cluster may allocate `nodes` more nodes now."""
        tier, family, cores = self._cluster_size(cluster_name)
        used = self._usage()
        return all(
            used.get((tier, key), 0) + nodes * cores <= limit
            for key, _label, limit in self._limits_of(tier, family)
        )

    def listing(self) -> dict[str, Any]:
        """The ListUsagesResult body: regional totals, then each family per tier (the shape
        of the REST spec's example, Usage/list.json)."""
        used = self._usage()
        sub = f"/subscriptions/{self.ws.subscription_id}/providers/{PROVIDER}"
        value = []
        for tier in TIERS:
            label = _total_label(tier)
            value.append(
                _usage(f"{sub}/usages", f"{PROVIDER}/{tier[0].lower()}{tier[1:]}Cores/usages",
                       label, used.get((tier, TOTAL), 0), self._limit(tier, TOTAL))
            )  # fmt: skip
            for family in sorted({f for f, _, _ in VM_SIZES.values()}):
                label = _family_usage_label(family, tier)
                value.append(
                    _usage(f"{sub}/usages/{label.replace(' ', '_')}",
                           f"{PROVIDER}/vmFamily/usages", label,
                           used.get((tier, family), 0), self._limit(tier, family))
                )  # fmt: skip
        return {"value": value}


def _usage(rid: str, kind: str, label: str, current: int, limit: int) -> dict[str, Any]:
    return {
        "id": rid,
        "amlWorkspaceLocation": LOCATION,
        "type": kind,
        "unit": "Count",
        "currentValue": current,
        "limit": limit,
        "name": {"value": label, "localizedValue": label},
    }
