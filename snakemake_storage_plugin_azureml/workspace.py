"""Where a datastore lives, asked of the Azure ML workspace: its storage account and container.

Used when the settings name no container: the workspace is the one the `aml` executor uses,
read with one datastore GET per datastore and run (the provider keeps what it resolved), with
DefaultAzureCredential. A storage provider cannot see executor settings, so the executor's
settings hand their workspace over as Snakemake parses them (run_storage.use_executor_workspace,
before any storage provider exists): `--aml-*` flags and profile keys count as for the executor.
Without the aml executor, SNAKEMAKE_AML_SUBSCRIPTION, _RESOURCE_GROUP, _WORKSPACE (and
_ENDPOINT for a control plane other than Azure's) name it. azure-ai-ml is not imported: a dry
run may resolve its datastore, and remote jobs get the resolved location from the executor
instead (`SNAKEMAKE_STORAGE_AZUREML_DATASTORES`), so they never need access to the workspace.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from .datastores import DatastoreConfigError, DatastoreTarget

ARM = "https://management.azure.com"
API_VERSION = "2024-04-01"
ENV = {
    "subscription": "SNAKEMAKE_AML_SUBSCRIPTION",
    "resource_group": "SNAKEMAKE_AML_RESOURCE_GROUP",
    "workspace": "SNAKEMAKE_AML_WORKSPACE",
    "endpoint": "SNAKEMAKE_AML_ENDPOINT",
}


@dataclass(frozen=True)
class WorkspaceRef:
    """An Azure ML workspace by ARM coordinates; `endpoint` replaces Azure Resource Manager."""

    subscription: str
    resource_group: str
    workspace: str
    endpoint: str = ARM

    @classmethod
    def named(
        cls, subscription: str | None, resource_group: str | None, workspace: str | None,
        endpoint: str | None = None,
    ) -> WorkspaceRef | None:  # fmt: skip
        """The workspace, or None when one of the three names is unset."""
        names = (subscription, resource_group, workspace)
        if not all(names):
            return None
        return cls(*names, endpoint=(endpoint or ARM).rstrip("/"))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> WorkspaceRef | None:
        """The executor's workspace settings as SNAKEMAKE_AML_* variables."""
        return cls.named(*(environ.get(ENV[key]) for key in ENV))

    @property
    def scope(self) -> str:
        return f"{self.endpoint}/.default"

    def url(self, path: str) -> str:
        """A workspace resource's URL: `path` like `datastores/<name>`."""
        return (
            f"{self.endpoint}/subscriptions/{self.subscription}/resourceGroups/"
            f"{self.resource_group}/providers/Microsoft.MachineLearningServices/workspaces/"
            f"{self.workspace}/{path}?api-version={API_VERSION}"
        )

    def describe(self) -> str:
        return f"workspace {self.workspace} ({self.endpoint})"


class WorkspaceApi:
    """GETs on the workspace's ARM resources, with DefaultAzureCredential and the plugin's retry
    policy; no azure-ai-ml (which a dry run must not import)."""

    def __init__(self, ref: WorkspaceRef, credential: Callable[[], object]) -> None:
        self.ref = ref
        self._credential = credential
        self._client = None

    def _pipeline(self):
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import BearerTokenCredentialPolicy

        from .retry import TransientRetryPolicy

        if self._client is None:
            auth = BearerTokenCredentialPolicy(self._credential(), self.ref.scope)
            policies = [TransientRetryPolicy(), auth]
            self._client = PipelineClient(self.ref.endpoint, policies=policies)
        return self._client

    def get(self, path: str, what: str) -> dict | None:
        """The resource's JSON; None when the workspace has none (404); DatastoreConfigError
        naming `what` for any other failure."""
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        where = self.ref.describe()
        try:
            response = self._pipeline().send_request(HttpRequest("GET", self.ref.url(path)))
        except AzureError as e:
            raise DatastoreConfigError(f"{what}: cannot ask {where}: {e}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise DatastoreConfigError(
                f"{what}: {where} answered {response.status_code} {_error_message(response)}"
            )
        return response.json()


def blob_location(name: str, properties: Mapping[str, object]) -> DatastoreTarget:
    """Account URL and container of an AzureBlob datastore's properties, the URL built as
    azure-ai-ml builds it (`{protocol}://{accountName}.blob.{endpoint}`; a fragment, which no
    HTTP client sends, is dropped)."""
    kind = properties.get("datastoreType")
    if kind != "AzureBlob":
        raise DatastoreConfigError(
            f"datastore {name!r} is of type {kind}; the azureml storage plugin reads blob "
            "datastores (AzureBlob) only"
        )
    protocol = properties.get("protocol") or "https"
    suffix = properties.get("endpoint") or "core.windows.net"
    url = f"{protocol}://{properties['accountName']}.blob.{suffix}"
    parts = urlsplit(url)
    account_url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")).rstrip("/")
    return DatastoreTarget(account_url, str(properties["containerName"]))


class WorkspaceDatastores:
    """`function(datastore name) -> DatastoreTarget` over one workspace (a datastore resolver)."""

    def __init__(self, ref: WorkspaceRef, credential: Callable[[], object]) -> None:
        self.ref = ref
        self.api = WorkspaceApi(ref, credential)
        self.resolved: dict[str, DatastoreTarget] = {}  # what came from the workspace, by name

    def __call__(self, name: str) -> DatastoreTarget:
        what = f"datastore {name!r}"
        try:
            doc = self.api.get(f"datastores/{quote(name, safe='')}", what)
        except DatastoreConfigError as e:
            raise DatastoreConfigError(
                f"{e}; or set --storage-azureml-account-url and --storage-azureml-container"
            ) from None
        if doc is None:
            raise DatastoreConfigError(f"{what} does not exist in {self.ref.describe()}")
        target = blob_location(name, doc.get("properties") or {})
        self.resolved[name] = target
        return target


def _error_message(response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.reason or ""


def datastores_setting(resolved: Mapping[str, DatastoreTarget]) -> str:
    """The resolved datastores as a `--storage-azureml-datastores` value (NAME=container URL)."""
    return ",".join(f"{name}={target.container_url}" for name, target in sorted(resolved.items()))
