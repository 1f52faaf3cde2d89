"""Whether the run's clusters fit the subscription's vCPU quota (`aml-genomics check`).

Azure ML counts every allocated node against its VM family's quota (dedicated) and the regional
total of its tier (dedicated, low priority). A cluster's worst case is max nodes × vCPUs per
node; clusters of one family and tier share the family's quota, so their maxima are added up:
if all scale out at once (a busy run does), they need the sum. Free = limit − current usage
(usage includes nodes these clusters hold right now, so a busy cluster makes this stricter).

`ml.compute.list_usage` gives Usage entries named either as the REST example spells them
("Standard DSv3 Family Cluster Dedicated vCPUs", "Total Cluster LowPriority Regional vCPUs")
or by family ("standardDSv3Family" with type `.../vmFamily/dedicatedCores/usages`); both are
read (`usage_key`). A limit of -1 is no limit of its own (low-priority families).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aml_bridge.admin.check_rows import Row

TOTAL = "total"
DEDICATED, LOW_PRIORITY = "dedicated", "low_priority"
_SUFFIX = re.compile(r"cluster(dedicated|lowpriority)vcpus$")


@dataclass(frozen=True)
class ClusterQuotaNeed:
    name: str
    vm_size: str
    family: str  # as list_sizes names it, e.g. standardDSv3Family
    vcpus: int
    max_nodes: int
    tier: str  # dedicated or low_priority

    @property
    def vcpus_at_max(self) -> int:
        return self.max_nodes * self.vcpus


@dataclass(frozen=True)
class Usage:
    label: str  # the entry's name as Azure shows it
    current: int
    limit: int  # -1: none of its own


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def usage_key(name: str, kind: str) -> tuple[str, str] | None:
    """(tier, family key or TOTAL) of a Usage entry; None for entries about something else."""
    key, kind = _key(name), (kind or "").lower()
    if "lowpriority" in key or "lowprioritycores" in kind:
        tier = LOW_PRIORITY
    elif "dedicated" in key or "dedicatedcores" in kind:
        tier = DEDICATED
    else:
        return None
    if key.startswith("total"):
        return tier, TOTAL
    family = _SUFFIX.sub("", key)
    return (tier, family) if family.endswith("family") else None


def read_usages(entries: list[tuple[str, str, int, int]]) -> dict[tuple[str, str], Usage]:
    """(name, type, current, limit) entries → the subscription's usage by (tier, family key or
    TOTAL); a workspace's or a compute's share of it (types `.../workspaces/...`) is left out."""
    found: dict[tuple[str, str], Usage] = {}
    for name, kind, current, limit in entries:
        if "workspace" in (kind or "").lower():
            continue
        key = usage_key(name, kind)
        if key is not None and key not in found:
            found[key] = Usage(name, int(current or 0), int(limit if limit is not None else -1))
    return found


def quota_rows(
    needs: list[ClusterQuotaNeed], usages: dict[tuple[str, str], Usage], location: str
) -> list[Row]:
    """One row per cluster: ✓ when its family's and its tier's free quota hold the maxima of
    every listed cluster counted against them; ✗ naming the shortfall and both fixes."""
    rows = []
    for need in needs:
        limits = [(need.tier, _key(need.family)), (need.tier, TOTAL)]
        details, problems = [], []
        for key in limits:
            usage = usages.get(key)
            if usage is None or usage.limit < 0:
                continue
            sharing = [n for n in needs if n.tier == need.tier and _shares(n, key)]
            wanted = sum(n.vcpus_at_max for n in sharing)
            free = usage.limit - usage.current
            others = [n.name for n in sharing if n is not need]
            with_others = f" with {', '.join(others)}" if others else ""
            text = (
                f"{usage.label}: {wanted} vCPUs at max nodes{with_others}, "
                f"{free} free ({usage.limit} − {usage.current} in use)"
            )
            (details if wanted <= free else problems).append(text)
            if wanted > free:
                room = free - (wanted - need.vcpus_at_max)
                fits = max(0, room // need.vcpus)
                problems[-1] += f"; {need.name} fits {fits} of its {need.max_nodes} nodes"
        check = f"cluster {need.name} quota"
        head = f"{need.max_nodes} × {need.vm_size} ({need.vcpus} vCPUs, {need.family}, {need.tier})"
        if problems:
            fix = (
                f"request a quota increase for these vCPUs in the Azure portal (Azure Machine "
                f"Learning → Quota, region {location}), or lower the cluster's max nodes "
                f"(az ml compute update -n {need.name} --max-instances N)"
            )
            rows.append(Row(check, False, f"{head}: " + "; ".join(problems), fix))
        elif details:
            rows.append(Row(check, True, f"{head}: " + "; ".join(details)))
        else:
            rows.append(Row(check, True, f"{head}: no vCPU limit listed for it"))
    return rows


def _shares(need: ClusterQuotaNeed, key: tuple[str, str]) -> bool:
    return key[1] == TOTAL or _key(need.family) == key[1]
