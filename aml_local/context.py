"""What the request handlers share: the workspace, its documents, storage, jobs, faults, log."""

from __future__ import annotations

from dataclasses import dataclass

from .blobs import BLOB_PROXY_PREFIX, Datastores
from .counters import RequestLog
from .faults import FaultInjector
from .jobs import JobManager
from .store import Store
from .workspace import Workspace


@dataclass
class Context:
    ws: Workspace
    store: Store
    stores: Datastores
    jobs: JobManager
    faults: FaultInjector
    log: RequestLog

    def blob_url(self, container: str, path: str = "") -> str:
        """A URL clients can use for a blob or container: through the service's HTTPS proxy."""
        tail = f"/{path.lstrip('/')}" if path else ""
        return f"{self.ws.base_url}{BLOB_PROXY_PREFIX}/{self.stores.account}/{container}{tail}"
