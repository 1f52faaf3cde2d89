"""`python -m aml_local up --dir DIR` / `down --dir DIR`: the whole local stack in one folder.

`up` starts Azurite (HTTPS, `--oauth basic`) and the service on free loopback ports (kept in
DIR/stack.json, so a later `up` reuses them and the state), writes DIR/env.sh and prints it:
`eval "$(python -m aml_local up --dir DIR)"`. The environment signs clients in as the service's
"user" identity through its managed-identity endpoint (DefaultAzureCredential picks it up);
the secret itself is read from DIR at eval time, never printed. `down` stops what `up` started.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import time
from pathlib import Path

from .azurite import Azurite
from .launcher import INHERITED_CLOUD_ENV, AmlService

STACK_FILE = "stack.json"
STOP_TIMEOUT_S = 30


def _alive(pid: int, marker: str) -> bool:
    """Whether `pid` still runs and is ours (its command line names the stack's folder)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return marker in cmdline


def up(folder: Path) -> str:
    """Start what is not running yet; the shell lines that set the clients' environment."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    stack_path = folder / STACK_FILE
    stack = json.loads(stack_path.read_text()) if stack_path.exists() else {}
    azurite = Azurite(folder / "azurite", tls_dir=folder / "tls")
    azurite.port = stack.get("azurite_port", azurite.port)
    service = AmlService(azurite, folder / "service")
    service.port = stack.get("service_port", service.port)
    if not _alive(stack.get("azurite_pid", 0), str(folder)):
        azurite.start()
        assert azurite.proc is not None
        stack.update(azurite_port=azurite.port, azurite_pid=azurite.proc.pid)
        stack_path.write_text(json.dumps(stack))
    if not _alive(stack.get("service_pid", 0), str(folder)):
        try:
            service.start()
        except RuntimeError:
            down(folder)
            raise
        assert service.proc is not None
        stack.update(service_port=service.port, service_pid=service.proc.pid, info=service.info)
        stack_path.write_text(json.dumps(stack))
    service.info = stack["info"]
    env = shell_environment(folder, service, azurite)
    (folder / "env.sh").write_text(env)
    return env


def shell_environment(folder: Path, service: AmlService, azurite: Azurite) -> str:
    """export lines for a POSIX shell; MSI_SECRET is read from its file when evaluated."""
    bundle = _ca_bundle(folder, service.ca_bundle)
    values = service.executor_environment() | {
        "REQUESTS_CA_BUNDLE": str(bundle),
        "SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_URL": azurite.blob_endpoint,
        "SNAKEMAKE_STORAGE_AZUREML_CONTAINER": service.info["datastores"]["workspaceblobstore"],
    }
    values.pop("MSI_SECRET")  # read from its file when evaluated, never written out
    lines = [f"export {k}={shlex.quote(v)}" for k, v in values.items()]
    secret_file = shlex.quote(service.info["user_secret_file"])
    lines.append(f'export MSI_SECRET="$(cat {secret_file})"')
    lines.append(f"unset {INHERITED_CLOUD_ENV}")
    return "\n".join(lines) + "\n"


def _ca_bundle(folder: Path, cert: str) -> Path:
    """The public CAs plus the stack's own certificate: the shell keeps reaching the internet."""
    import certifi

    bundle = folder / "tls" / "ca-bundle.pem"
    bundle.write_text(Path(certifi.where()).read_text() + "\n" + Path(cert).read_text())
    return bundle


def down(folder: Path) -> list[str]:
    """SIGTERM the processes `up` started (checked to be ours), wait; what was stopped."""
    folder = folder.resolve()
    stack_path = folder / STACK_FILE
    if not stack_path.exists():
        return []
    stack = json.loads(stack_path.read_text())
    stopped = []
    for name in ("service", "azurite"):  # the service first: it finishes its uploads
        pid = stack.pop(f"{name}_pid", 0)
        if not _alive(pid, str(folder)):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _alive(pid, str(folder)) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid, str(folder)):
            os.kill(pid, signal.SIGKILL)
        stopped.append(name)
    stack_path.write_text(json.dumps(stack))
    return stopped


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m aml_local", description=__doc__)
    p.add_argument("action", choices=("up", "down"))
    p.add_argument("--dir", type=Path, required=True, help="the stack's state (kept by down)")
    args = p.parse_args(argv)
    if args.action == "up":
        print(up(args.dir), end="", flush=True)
    else:
        stopped = down(args.dir)
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
