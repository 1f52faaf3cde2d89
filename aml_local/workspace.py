"""The one workspace the service hosts: its identity, ARM ids and the fixed resources in it
(datastores, compute clusters)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .identity import ClusterIdentity

PROVIDER = "Microsoft.MachineLearningServices"
BLOB_DATASTORE = "workspaceblobstore"
ARTIFACT_DATASTORE = "workspaceartifactstore"
LOCATION = "local"
DEFAULT_CLUSTER = "genomics-cluster"


@dataclass(frozen=True)
class Cluster:
    """An AmlCompute cluster: one VM size for all its nodes, a node limit and a priority tier."""

    name: str
    vm_size: str = "STANDARD_D8S_V3"
    max_nodes: int = 4
    tier: str = "LowPriority"  # or Dedicated
    min_nodes: int = 0
    idle_s: int = 120  # idle time before a node is released (scale-down)

    @classmethod
    def parse(cls, entry: str) -> Cluster:
        """NAME:VM_SIZE:MAX_NODES[:low_priority]; ValueError saying what is wrong."""
        parts = entry.split(":")
        if not 3 <= len(parts) <= 4 or not parts[0] or not parts[2].isdigit():
            raise ValueError(f"{entry!r} is not NAME:VM_SIZE:MAX_NODES[:low_priority]")
        if len(parts) == 4 and parts[3] != "low_priority":
            raise ValueError(f"{entry!r}: the fourth part can only be low_priority")
        tier = "LowPriority" if len(parts) == 4 else "Dedicated"
        return cls(parts[0], parts[1].upper(), int(parts[2]), tier)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Workspace:
    base_url: str
    subscription_id: str = "00000000-0000-0000-0000-000000000000"
    resource_group: str = "local-rg"
    name: str = "local-ws"
    clusters: tuple[Cluster, ...] = (Cluster(DEFAULT_CLUSTER),)
    location: str = LOCATION  # an Azure region's name (e.g. eastus) gives it list prices

    @property
    def compute(self) -> str:
        """The default cluster: jobs without a compute (serverless on Azure) run on it."""
        return self.clusters[0].name

    @property
    def max_nodes(self) -> int:
        return self.clusters[0].max_nodes

    def cluster(self, name: str) -> Cluster | None:
        """Compute names are case-insensitive in ARM."""
        return next((c for c in self.clusters if c.name.lower() == name.lower()), None)

    def put_cluster(self, cluster: Cluster) -> None:
        """Add a cluster created through the API, or replace the one of that name."""
        kept = tuple(c for c in self.clusters if c.name.lower() != cluster.name.lower())
        if len(kept) == len(self.clusters):
            self.clusters = (*self.clusters, cluster)
        else:
            self.clusters = tuple(cluster if c.name.lower() == cluster.name.lower() else c
                                  for c in self.clusters)  # fmt: skip

    @property
    def arm_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/{PROVIDER}/workspaces/{self.name}"
        )

    def child_id(self, kind: str, name: str, version: str | None = None) -> str:
        tail = f"/versions/{version}" if version is not None else ""
        return f"{self.arm_id}/{kind}/{name}{tail}"

    def is_this(self, params: dict[str, str]) -> bool:
        return (
            params.get("subscriptionId") == self.subscription_id
            and params.get("resourceGroupName", "").lower() == self.resource_group.lower()
            and params.get("workspaceName", "").lower() == self.name.lower()
        )

    def studio_url(self, job_name: str) -> str:
        """Shaped like Azure ML's (`https://ml.azure.com/runs/<name>?wsid=...`; the SDK appends
        `&tid=<tenant>`), as the SDK's studio_url_from_job_id builds it."""
        wsid = f"/subscriptions/{self.subscription_id}/resourcegroups/{self.resource_group}"
        return f"{self.base_url}/runs/{job_name}?wsid={wsid}/workspaces/{self.name}"

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.arm_id,
            "name": self.name,
            "type": f"{PROVIDER}/workspaces",
            "location": self.location,
            "kind": "Default",
            "identity": {"type": "SystemAssigned"},
            "properties": {
                "friendlyName": self.name,
                "discoveryUrl": f"{self.base_url}/discovery",
                "workspaceId": "00000000-0000-0000-0000-0000000000aa",
                "provisioningState": "Succeeded",
                "storageAccount": (
                    f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                    "/providers/Microsoft.Storage/storageAccounts/devstoreaccount1"
                ),
                "mlFlowTrackingUri": f"azureml://local{self.arm_id}",
            },
        }

    def _identity(self, cluster: Cluster, identity: ClusterIdentity) -> dict[str, Any]:
        principal = {
            "principalId": "00000000-0000-0000-0000-0000000000bb",
            "tenantId": "00000000-0000-0000-0000-0000000000cc",
        }
        if identity.kind == "SystemAssigned":
            return {"type": "SystemAssigned", **principal}
        if identity.kind == "UserAssigned":
            uami = (
                f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{cluster.name}-id"
            )
            entry = {"principalId": principal["principalId"], "clientId": identity.client_id}
            return {"type": "UserAssigned", "userAssignedIdentities": {uami: entry}}
        return {"type": "None"}

    def discovery(self) -> dict[str, str]:
        keys = ("api", "catalog", "experimentation", "history", "modelmanagement", "pipelines")
        return {key: self.base_url for key in keys} | {"studio": self.base_url}

    def compute_resource(self, cluster: Cluster, identity: ClusterIdentity) -> dict[str, Any]:
        """The ComputeResource body of a cluster, with the managed identity it has (ARM's
        ManagedServiceIdentity shape: SystemAssigned, UserAssigned with the identity's client
        id, or None)."""
        return {
            "id": self.child_id("computes", cluster.name),
            "name": cluster.name,
            "type": f"{PROVIDER}/workspaces/computes",
            "location": self.location,
            "identity": self._identity(cluster, identity),
            "properties": {
                "computeType": "AmlCompute",
                "provisioningState": "Succeeded",
                "computeLocation": self.location,
                "properties": {
                    "vmSize": cluster.vm_size,
                    "vmPriority": cluster.tier,
                    "scaleSettings": {
                        "maxNodeCount": cluster.max_nodes,
                        "minNodeCount": cluster.min_nodes,
                        "nodeIdleTimeBeforeScaleDown": f"PT{cluster.idle_s}S",
                    },
                    "osType": "Linux",
                },
            },
        }
