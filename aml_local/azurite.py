"""Azurite, Microsoft's Blob Storage emulator, started on 127.0.0.1 (the local stack's storage).

Plain HTTP with the account key, or HTTPS with `--oauth basic` so that bearer tokens (from the
service's managed-identity endpoint) are accepted as well as the key and SAS. The well-known
development account and key are public test values, not secrets. Use a fresh `location` per
test session: Azurite garbage-collects deleted data only every ten minutes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .tls import ensure_certificate

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
START_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def azurite_binary() -> str:
    """$AZURITE_BLOB_BIN, azurite-blob on PATH, or .tools/ (npm-installed there when missing)."""
    found = os.environ.get("AZURITE_BLOB_BIN") or shutil.which("azurite-blob")
    local = ROOT / ".tools" / "node_modules" / ".bin" / "azurite-blob"
    if found:
        return found
    if not local.exists():
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund"]
            + ["--prefix", str(ROOT / ".tools"), "azurite"],
            check=True,
        )
    return str(local)


@dataclass
class Azurite:
    """A running Azurite blob service; `stop()`/`start()` simulate an outage on the same port.

    With `tls_dir`, it serves HTTPS with that folder's certificate and accepts bearer tokens
    (`--oauth basic`: issuer, audience and lifetime checked); clients trust `ca_bundle`.
    """

    location: Path
    port: int = field(default_factory=free_port)
    tls_dir: Path | None = None
    account: str = ACCOUNT
    key: str = KEY
    proc: subprocess.Popen | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls_dir else "http"

    @property
    def ca_bundle(self) -> str | None:
        return str(self.tls_dir / "cert.pem") if self.tls_dir else None

    @property
    def blob_endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/{self.account}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol={self.scheme};AccountName={self.account};"
            f"AccountKey={self.key};BlobEndpoint={self.blob_endpoint};"
        )

    def command(self) -> list[str]:
        cmd = [
            azurite_binary(), "--silent", "--skipApiVersionCheck", "--disableTelemetry",
            "--location", str(self.location), "--blobHost", "127.0.0.1",
            "--blobPort", str(self.port),
        ]  # fmt: skip
        if self.tls_dir:
            cert, key = ensure_certificate(self.tls_dir)
            cmd += ["--cert", str(cert), "--key", str(key), "--oauth", "basic"]
        return cmd

    def start(self) -> None:
        """Start in its own session (it outlives a launcher that exits), logs beside `location`."""
        self.location.mkdir(parents=True, exist_ok=True)
        log_path = self.location.parent / f"azurite-{self.port}.log"
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"azurite exited with {self.proc.returncode}; see {log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"azurite did not listen on port {self.port} within {START_TIMEOUT_S} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
