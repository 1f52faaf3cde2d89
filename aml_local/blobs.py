"""The workspace datastores, each one container in the Azurite account the service is given.

The connection string comes from the environment (never the command line); it is the
service's own key, never given to jobs. Clients of the SDK reach the blobs through the service's
HTTPS `/_blob/` proxy with SAS tokens, because the SDK builds datastore URLs from an account
name and a suffix. Azurite may speak HTTP or HTTPS (then REQUESTS_CA_BUNDLE names its CA).
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import ssl
import stat
from pathlib import Path
from urllib.parse import urlsplit

from azure.storage.blob import (
    BlobServiceClient,
    ContainerSasPermissions,
    generate_container_sas,
)

from .traffic import NOBODY, Caller, Traffic

STORAGE_ENV = "AML_LOCAL_STORAGE_CONNECTION_STRING"
BLOB_PROXY_PREFIX = "/_blob"


class Datastores:
    """Datastore name → container, plus the transfers a job's bindings need."""

    def __init__(self, connection_string: str, containers: dict[str, str]) -> None:
        self.containers = dict(containers)
        self.service = BlobServiceClient.from_connection_string(connection_string)
        self.account = self.service.account_name
        self._key = self.service.credential.account_key
        parts = urlsplit(self.service.url)
        self.blob_tls = parts.scheme == "https"
        self.blob_host = parts.hostname or "127.0.0.1"
        self.blob_port = parts.port or (443 if self.blob_tls else 80)
        self.blob_endpoint = self.service.url.rstrip("/")
        self._tls: ssl.SSLContext | None = None
        self.traffic = Traffic()  # the proxy's and these transfers' bytes (traffic.py)

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        """A raw connection to the blob endpoint (for the proxy), trusting REQUESTS_CA_BUNDLE."""
        if not self.blob_tls:
            return http.client.HTTPConnection(self.blob_host, self.blob_port, timeout=timeout)
        if self._tls is None:
            self._tls = ssl.create_default_context(cafile=os.environ.get("REQUESTS_CA_BUNDLE"))
        return http.client.HTTPSConnection(
            self.blob_host, self.blob_port, timeout=timeout, context=self._tls
        )

    def ensure_containers(self) -> None:
        for container in self.containers.values():
            client = self.service.get_container_client(container)
            if not client.exists():
                client.create_container()

    def container_of(self, datastore: str) -> str:
        return self.containers[datastore]

    def create_container(self, container: str) -> None:
        self.service.get_container_client(container).create_container()

    def sas_token(self, container: str, *, write: bool = False, hours: int = 24) -> str:
        permission = ContainerSasPermissions(
            read=True, list=True, write=write, create=write, add=write, delete=write
        )
        return generate_container_sas(
            self.account,
            container,
            account_key=self._key,
            permission=permission,
            expiry=dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours),
        )

    def download(
        self, container_name: str, path: str, dest: Path, *, is_file: bool, caller: Caller = NOBODY
    ) -> None:
        """Copy a blob (is_file) or every blob under a prefix to `dest`, read-only."""
        container = self.service.get_container_client(container_name)
        path = path.strip("/")
        if is_file:
            self._download_one(container, path, dest, caller)
            return
        dest.mkdir(parents=True, exist_ok=True)
        prefix = f"{path}/" if path else ""
        for blob in container.list_blobs(name_starts_with=prefix):
            self._download_one(container, blob.name, dest / blob.name[len(prefix) :], caller)

    def _download_one(self, container, name: str, dest: Path, caller: Caller) -> None:  # noqa: ANN001
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb") as fh:
            size = container.download_blob(name).readinto(fh)
        self.traffic.add(caller, container.container_name, name, read=size)
        self.traffic.saw_size(container.container_name, name, size)
        _read_only(dest)

    def upload(self, container_name: str, path: str, src: Path, caller: Caller = NOBODY) -> int:
        """Upload a file, or a folder's files under a prefix; the number of blobs written."""
        container = self.service.get_container_client(container_name)
        path = path.strip("/")
        files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        for f in files:
            name = path if src.is_file() else f"{path}/{f.relative_to(src).as_posix()}"
            name = name.lstrip("/")
            with open(f, "rb") as fh:
                container.upload_blob(name, fh, overwrite=True)
            self.traffic.add(caller, container_name, name, written=f.stat().st_size)
        return len(files)

    def list_names(self, container_name: str, prefix: str) -> list[str]:
        container = self.service.get_container_client(container_name)
        return [b.name for b in container.list_blobs(name_starts_with=prefix)]


def _read_only(path: Path) -> None:
    os.chmod(path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
