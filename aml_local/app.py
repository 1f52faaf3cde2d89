"""Assembles the service: state, storage, jobs, routes, HTTPS server; start and stop."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from . import assets_api, computes_api, control_api, jobs_api, prices_api, workspace_api
from .blobs import STORAGE_ENV, Datastores
from .builds import EnvironmentBuilds
from .context import Context
from .counters import RequestLog
from .faults import FAULTS_ENV, FaultInjector
from .identity import (
    MSI_PATH,
    USER_SECRET_FILE,
    ClusterIdentity,
    Identities,
    without_credentials,
)
from .images import ImageCache
from .jobs import JobManager
from .pipelines import DEFAULT_TIMEOUT_S
from .routing import Router
from .scheduler import NodeTimes
from .server import Dispatcher, HTTPSServer, make_handler
from .store import Store
from .tls import ensure_certificate
from .vm_sizes import canonical
from .workspace import ARTIFACT_DATASTORE, BLOB_DATASTORE, DEFAULT_CLUSTER, Cluster, Workspace

SERVICE_ONLY_ENV = (STORAGE_ENV, FAULTS_ENV)


@dataclass
class ServiceConfig:
    """How to start the service; the workspace identity defaults to `Workspace`'s."""

    state_dir: Path
    port: int = 0
    subscription_id: str = Workspace.subscription_id
    resource_group: str = Workspace.resource_group
    workspace: str = Workspace.name
    location: str = Workspace.location
    # the default cluster; `clusters` adds more
    compute: str = DEFAULT_CLUSTER
    vm_size: str = Cluster.vm_size
    max_nodes: int = Cluster.max_nodes
    clusters: list[Cluster] = field(default_factory=list)
    environment_build_s: float = 0.0
    # built environment images, by conda-file content; shared by services (default: in state)
    image_cache: Path | None = None
    # a node allocation's start-up time, and how long a released node stays allocated
    node_startup_s: float = 0.0
    node_idle_s: float = 0.0
    # a parallel step's run() call limit when its node sets none (Azure ML: 60 s); tests lower
    # it so that a step relying on the default fails in seconds, not in a minute
    step_timeout_s: float = DEFAULT_TIMEOUT_S
    containers: dict[str, str] = field(
        default_factory=lambda: {BLOB_DATASTORE: "azureml-blobstore", ARTIFACT_DATASTORE: "azureml"}
    )
    tls_dir: Path | None = None  # default: <state_dir>/tls
    # Managed identity per cluster name; a cluster not named here has a system-assigned one.
    cluster_identities: dict[str, ClusterIdentity] = field(default_factory=dict)

    def all_clusters(self) -> tuple[Cluster, ...]:
        """The default cluster first, then the others; SystemExit for a VM size the region
        does not offer or a name given twice."""
        default = Cluster(self.compute, self.vm_size.upper(), self.max_nodes)
        clusters = (default, *self.clusters)
        for cluster in clusters:
            if canonical(cluster.vm_size) is None:
                raise SystemExit(f"cluster {cluster.name}: VM size {cluster.vm_size} is unknown.")
        names = [c.name.lower() for c in clusters]
        if len(set(names)) != len(names):
            raise SystemExit(f"cluster names must differ: {', '.join(c.name for c in clusters)}")
        return clusters


class LocalService:
    def __init__(self, config: ServiceConfig, environ: dict[str, str] | None = None) -> None:
        environ = dict(os.environ if environ is None else environ)
        connection_string = environ.get(STORAGE_ENV)
        if not connection_string:
            raise SystemExit(f"{STORAGE_ENV} must hold the storage connection string.")
        self.config = config
        state = config.state_dir
        state.mkdir(parents=True, exist_ok=True)
        self.cert, key = ensure_certificate(config.tls_dir or state / "tls")
        stores = Datastores(connection_string, config.containers)
        stores.ensure_containers()
        faults = FaultInjector.from_environment(environ)
        self._server = HTTPSServer(config.port, BaseHTTPRequestHandler, self.cert, key)
        port = self._server.server_address[1]
        ws = Workspace(
            base_url=f"https://127.0.0.1:{port}",
            subscription_id=config.subscription_id,
            resource_group=config.resource_group,
            name=config.workspace,
            clusters=config.all_clusters(),
            location=config.location,
        )
        store = Store(state / "resources")
        identities = Identities(state, ws.arm_id, config.cluster_identities)
        job_env = {k: v for k, v in environ.items() if k not in SERVICE_ONLY_ENV}
        job_env = without_credentials(job_env)  # a node's credentials come from its identity
        images = ImageCache(config.image_cache or state / "images")
        builds = EnvironmentBuilds(store, images, config.environment_build_s)
        nodes = NodeTimes(config.node_startup_s, config.node_idle_s)
        jobs = JobManager(
            ws, store, stores, faults, state / "work", job_env, identities, builds, nodes,
            config.step_timeout_s,
        )  # fmt: skip
        self.ctx = Context(ws, store, stores, jobs, faults, RequestLog())
        router = Router()
        for api in (workspace_api, assets_api, jobs_api, control_api, prices_api):
            api.register(router, self.ctx)
        computes_api.register(router, self.ctx)
        computes_api.restore(self.ctx)
        self._server.RequestHandlerClass = make_handler(Dispatcher(self.ctx, router, identities))
        self._thread: threading.Thread | None = None

    def info(self) -> dict[str, Any]:
        ws = self.ctx.ws
        return {
            "base_url": ws.base_url,
            "ca_bundle": str(self.cert),
            "subscription_id": ws.subscription_id,
            "resource_group": ws.resource_group,
            "workspace": ws.name,
            "compute": ws.compute,
            "max_nodes": ws.max_nodes,
            "clusters": {c.name: [c.vm_size, c.max_nodes, c.tier] for c in ws.clusters},
            "datastores": dict(self.ctx.stores.containers),
            "msi_endpoint": ws.base_url + MSI_PATH,
            "user_secret_file": str(self.config.state_dir / USER_SECRET_FILE),
        }

    def start(self) -> list[str]:
        """Serve on a background thread; re-queue the jobs a previous run left unfinished."""
        requeued = self.ctx.jobs.recover()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return requeued

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.ctx.jobs.close()
        self.ctx.store.close()
