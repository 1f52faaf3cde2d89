"""The one workspace the service hosts: its identity, ARM ids and the fixed resources in it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

PROVIDER = "Microsoft.MachineLearningServices"
BLOB_DATASTORE = "workspaceblobstore"
ARTIFACT_DATASTORE = "workspaceartifactstore"


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Workspace:
    base_url: str
    subscription_id: str = "00000000-0000-0000-0000-000000000000"
    resource_group: str = "local-rg"
    name: str = "local-ws"
    compute: str = "genomics-cluster"
    vm_size: str = "STANDARD_D4S_V3"
    vm_priority: str = "LowPriority"
    max_nodes: int = 4

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
            "location": "local",
            "kind": "Default",
            "identity": {"type": "SystemAssigned"},
            "properties": {
                "friendlyName": self.name,
                "discoveryUrl": f"{self.base_url}/discovery",
                "workspaceId": "00000000-0000-0000-0000-0000000000aa",
                "provisioningState": "Succeeded",
                "storageAccount": f"{self.arm_id}/storageAccounts/local",
                "mlFlowTrackingUri": f"azureml://local{self.arm_id}",
            },
        }

    def discovery(self) -> dict[str, str]:
        keys = ("api", "catalog", "experimentation", "history", "modelmanagement", "pipelines")
        return {key: self.base_url for key in keys} | {"studio": self.base_url}

    def compute_resource(self) -> dict[str, Any]:
        return {
            "id": self.child_id("computes", self.compute),
            "name": self.compute,
            "type": f"{PROVIDER}/workspaces/computes",
            "location": "local",
            "properties": {
                "computeType": "AmlCompute",
                "provisioningState": "Succeeded",
                "computeLocation": "local",
                "properties": {
                    "vmSize": self.vm_size,
                    "vmPriority": self.vm_priority,
                    "scaleSettings": {"maxNodeCount": self.max_nodes, "minNodeCount": 0},
                    "osType": "Linux",
                },
            },
        }
