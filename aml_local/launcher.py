"""`python -m aml_local serve` as a child process, and what its clients need to reach it.

Used by `python -m aml_local up`, the tests and the benchmarks alike. The service's storage key
goes to it through its environment only; its clients get tokens from its managed-identity
endpoint (`client_environment()`: what `DefaultAzureCredential` needs), never a key.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .azurite import Azurite, free_port
from .blobs import BLOB_PROXY_PREFIX, STORAGE_ENV
from .faults import FAULTS_ENV

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 60
# MLClient exports the name of a custom cloud; a child that inherits it cannot import the SDK.
INHERITED_CLOUD_ENV = "AZUREML_CURRENT_CLOUD"


@dataclass
class AmlService:
    """A running `python -m aml_local serve`; stop()/start()/restart() keep its port.

    On an HTTPS Azurite, the service shares Azurite's certificate folder: one CA for clients.
    `cluster_identities`: `NAME=system|none|user:<client-id>` items (default: system-assigned).
    """

    azurite: Azurite
    state_dir: Path
    max_nodes: int = 4
    faults: dict[str, Any] = field(default_factory=dict)
    blob_container: str = "azureml-blobstore"
    artifact_container: str = "azureml"
    port: int = field(default_factory=free_port)
    cluster_identities: list[str] = field(default_factory=list)
    # Clusters besides the default one, NAME:VM_SIZE:MAX_NODES[:low_priority]
    clusters: list[str] = field(default_factory=list)
    environment_build_s: float = 0.0
    # built environment images: one cache for every service of this checkout (built once)
    image_cache: Path = ROOT / ".tools" / "aml-local-images"
    node_startup_s: float = 0.0
    node_idle_s: float = 0.0
    step_timeout_s: float | None = None  # None: Azure ML's default (60 s)
    location: str | None = None  # None: the service's default ("local"); a region has prices
    info: dict[str, Any] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "aml_local", "serve",
            "--state-dir", str(self.state_dir), "--port", str(self.port),
            "--max-nodes", str(self.max_nodes),
            "--blob-container", self.blob_container,
            "--artifact-container", self.artifact_container,
            "--image-cache", str(self.image_cache),
        ]  # fmt: skip
        if self.azurite.tls_dir:
            cmd += ["--tls-dir", str(self.azurite.tls_dir)]
        for spec in self.cluster_identities:
            cmd += ["--cluster-identity", spec]
        for spec in self.clusters:
            cmd += ["--cluster", spec]
        if self.environment_build_s:
            cmd += ["--environment-build-seconds", str(self.environment_build_s)]
        if self.node_startup_s or self.node_idle_s:
            cmd += ["--node-startup-seconds", str(self.node_startup_s)]
            cmd += ["--node-idle-seconds", str(self.node_idle_s)]
        if self.step_timeout_s is not None:
            cmd += ["--default-step-timeout-seconds", str(self.step_timeout_s)]
        if self.location:
            cmd += ["--location", self.location]
        return cmd

    def environment(self) -> dict[str, str]:
        """The service's own environment: the storage key, Azurite's CA, faults; no identity."""
        env = {k: v for k, v in os.environ.items() if k != INHERITED_CLOUD_ENV}
        env[STORAGE_ENV] = self.azurite.connection_string
        if self.azurite.ca_bundle:
            env["REQUESTS_CA_BUNDLE"] = self.azurite.ca_bundle
        if self.faults:
            env[FAULTS_ENV] = json.dumps(self.faults)
        return env

    def start(self) -> None:
        """Start in its own session; its first stdout line (the JSON info) goes to a file."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        out_path = self.state_dir.parent / f"service-{self.port}.json"
        log_path = self.state_dir.parent / f"service-{self.port}.log"
        out_path.unlink(missing_ok=True)
        with open(out_path, "wb") as out, open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not out_path.read_text().endswith("\n"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"local service did not start; see {log_path}")
            time.sleep(0.05)
        self.info = json.loads(out_path.read_text().splitlines()[0])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @contextmanager
    def running(self) -> Iterator[AmlService]:
        """Started for the `with` block, stopped after it."""
        self.start()
        try:
            yield self
        finally:
            self.stop()

    # -- what clients need -----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.info["base_url"]

    @property
    def ca_bundle(self) -> str:
        return self.info["ca_bundle"]

    @property
    def subscription_id(self) -> str:
        return self.info["subscription_id"]

    @property
    def resource_group(self) -> str:
        return self.info["resource_group"]

    @property
    def workspace(self) -> str:
        return self.info["workspace"]

    @property
    def compute(self) -> str:
        return self.info["compute"]

    @property
    def user_secret(self) -> str:
        """The secret of the "user" identity (in place of `az login`); read from the state."""
        return Path(self.info["user_secret_file"]).read_text().strip()

    def client_environment(self) -> dict[str, str]:
        """What DefaultAzureCredential and the SDK need to act as the user against this service."""
        return {
            "REQUESTS_CA_BUNDLE": self.ca_bundle,
            "MSI_ENDPOINT": self.info["msi_endpoint"],
            "MSI_SECRET": self.user_secret,
        }

    def executor_environment(self) -> dict[str, str]:
        """The client environment plus the workspace settings of the `aml` executor."""
        return self.client_environment() | {
            "SNAKEMAKE_AML_ENDPOINT": self.base_url,
            "SNAKEMAKE_AML_SUBSCRIPTION": self.subscription_id,
            "SNAKEMAKE_AML_RESOURCE_GROUP": self.resource_group,
            "SNAKEMAKE_AML_WORKSPACE": self.workspace,
        }

    def token(self, resource: str | None = None, secret: str | None = None) -> str:
        """A token from the identity endpoint (default: the user's, for the service's API)."""
        query = urllib.parse.urlencode(
            {"api-version": "2017-09-01", "resource": resource or self.base_url}
        )
        req = urllib.request.Request(f"{self.info['msi_endpoint']}?{query}")
        req.add_header("secret", secret or self.user_secret)
        tls = ssl.create_default_context(cafile=self.ca_bundle)
        with urllib.request.urlopen(req, context=tls, timeout=30) as resp:
            return json.loads(resp.read())["access_token"]

    def ml_client(self):  # noqa: ANN201 - azure.ai.ml stays a lazy import
        """An MLClient acting as the user (client_environment() must be in os.environ)."""
        from .connect import ml_client

        return ml_client(self.base_url, self.subscription_id, self.resource_group, self.workspace)

    @property
    def blob_proxy_url(self) -> str:
        """The storage account through the service's proxy, where traffic is counted (what
        the workspace's datastores point clients at)."""
        return f"{self.base_url}{BLOB_PROXY_PREFIX}/{self.azurite.account}"

    def container(self, datastore: str = "workspaceblobstore"):  # noqa: ANN201
        """An azure-storage-blob ContainerClient on the container behind a datastore (key)."""
        from azure.storage.blob import ContainerClient

        name = self.info["datastores"][datastore]
        verify: Any = self.azurite.ca_bundle or True
        return ContainerClient.from_connection_string(
            self.azurite.connection_string, name, connection_verify=verify
        )

    # -- control endpoint ------------------------------------------------------------------
    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base_url}/_local/{path}", data, method=method)
        req.add_header("Content-Type", "application/json")
        tls = ssl.create_default_context(cafile=self.ca_bundle)
        with urllib.request.urlopen(req, context=tls, timeout=30) as resp:
            payload = resp.read()
        return json.loads(payload) if payload else None

    def requests(self) -> list[dict[str, Any]]:
        """Every API request so far: {"method", "route" (templated), "status"}."""
        return self.control("GET", "requests")["records"]

    def clear_requests(self) -> None:
        self.control("DELETE", "requests")

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Replace the fault settings (see aml_local.faults.FaultSettings)."""
        return self.control("PUT", "faults", settings)

    def set_quota(self, tier: str, family: str, limit: int) -> dict[str, Any]:
        """One vCPU limit (aml_local.quota.Quotas.set_limit): family or "total"."""
        return self.control("PUT", "quota", {"tier": tier, "family": family, "limit": limit})

    def preempt(self, pattern: str = "") -> list[str]:
        return self.control("POST", "preempt", {"pattern": pattern})["preempted"]

    def stats(self) -> dict[str, int]:
        return self.control("GET", "stats")

    def usage(self) -> dict[str, dict[str, Any]]:
        """Node-seconds per job name (a pipeline job's with its steps'), see aml_local.usage."""
        return self.control("GET", "usage")["jobs"]
