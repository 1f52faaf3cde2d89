"""Where a job runs: the smallest cluster whose node fits it, or a serverless instance type.

On an AmlCompute cluster a job runs on the cluster's one VM size (`resources.instance_type` is
honoured only on serverless and Kubernetes compute), so rules are sized by choosing a cluster.
The clusters are read from the workspace once per run (aml_bridge.gateway.client); choosing is pure.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVERLESS = "serverless"


@dataclass(frozen=True)
class Cluster:
    """An AmlCompute cluster as the workspace describes it: its VM size's cores and memory."""

    name: str
    vm_size: str
    cores: int
    mem_mb: int
    max_instances: int
    tier: str  # dedicated or low_priority
    identity: str | None = None  # managed identity type, e.g. system_assigned
    region: str = ""  # the cluster's location, e.g. eastus (its VM size's price depends on it)
    sku: str = ""  # the VM size as the region lists it, e.g. Standard_D8s_v3 (prices name it so)

    def fits(self, threads: int, mem_mb: int | None) -> bool:
        return self.cores >= threads and self.mem_mb >= (mem_mb or 0)

    def describe(self) -> str:
        return f"{self.name} ({self.vm_size}: {self.cores} cores, {self.mem_mb} MB)"


def without_identity(clusters: tuple[Cluster, ...]) -> list[str]:
    """Warnings for clusters whose jobs could not reach the datastore: a job's storage access
    is its cluster's managed identity (the bridge never ships a storage secret)."""
    return [
        f"cluster {c.name} has no managed identity: its jobs cannot reach the datastore. Give it "
        "a system-assigned identity (az ml compute update --name "
        f"{c.name} --identity-type system_assigned) with 'Storage Blob Data Contributor' on the "
        "datastore's storage account"
        for c in clusters
        if not c.identity or c.identity.lower() == "none"
    ]


def by_size(clusters: list[Cluster]) -> tuple[Cluster, ...]:
    """Smallest first: by cores, then memory."""
    return tuple(sorted(clusters, key=lambda c: (c.cores, c.mem_mb)))


def choose_cluster(
    clusters: tuple[Cluster, ...], threads: int, mem_mb: int | None, label: str, pinned: str | None
) -> Cluster:
    """The pinned cluster, else the smallest whose node fits the job; ValueError naming the job
    (label), its needs and the clusters' sizes when none fits: it could never be scheduled."""
    candidates = clusters
    if pinned:
        candidates = tuple(c for c in clusters if c.name == pinned)
        if not candidates:
            names = ", ".join(c.name for c in clusters)
            raise ValueError(
                f"{label}: resource aml_compute={pinned!r} is not one of the run's clusters "
                f"({names}); add it to --aml-clusters"
            )
    for cluster in candidates:
        if cluster.fits(threads, mem_mb):
            return cluster
    sizes = "; ".join(c.describe() for c in candidates)
    raise ValueError(
        f"{label} needs {threads} threads and {mem_mb} MB, more than a node of "
        f"{'its pinned cluster' if pinned else 'any cluster'}: {sizes}"
    )


@dataclass(frozen=True)
class InstanceType:
    """A VM size for serverless compute, from the --aml-instance-types table."""

    name: str
    cores: int
    mem_mb: int


def parse_instance_table(entries: list[str]) -> list[InstanceType]:
    """Entries NAME:CORES:MEM_MB, smallest first (by cores, then memory)."""
    table = []
    for entry in entries:
        parts = entry.split(":")
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
            raise ValueError(f"entry {entry!r} is not NAME:CORES:MEM_MB")
        table.append(InstanceType(parts[0], int(parts[1]), int(parts[2])))
    return sorted(table, key=lambda t: (t.cores, t.mem_mb))


def choose_instance_type(
    table: list[InstanceType], threads: int, mem_mb: int | None, label: str
) -> str | None:
    """Serverless only: the smallest type with enough cores and memory; None without a table.

    A job bigger than every type is an error naming it (label): it could never be scheduled.
    """
    if not table:
        return None
    for candidate in table:
        if candidate.cores >= threads and candidate.mem_mb >= (mem_mb or 0):
            return candidate.name
    largest = max(table, key=lambda t: (t.cores, t.mem_mb))
    raise ValueError(
        f"{label} needs {threads} threads and {mem_mb} MB, more than any instance type in "
        f"--aml-instance-types (largest: {largest.name} with {largest.cores} cores, "
        f"{largest.mem_mb} MB)"
    )
