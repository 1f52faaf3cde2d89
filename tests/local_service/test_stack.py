"""`python -m aml_local up`/`down`: the README's local stack, driven the way a user does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CLIENT = (
    "import os\n"
    "from aml_local.connect import ml_client\n"
    "e = os.environ\n"
    "ml = ml_client(e['SNAKEMAKE_AML_ENDPOINT'], e['SNAKEMAKE_AML_SUBSCRIPTION'],\n"
    "               e['SNAKEMAKE_AML_RESOURCE_GROUP'], e['SNAKEMAKE_AML_WORKSPACE'])\n"
    "print(*[c.name for c in ml.compute.list()])\n"
    "from azure.identity import DefaultAzureCredential\n"
    "from azure.storage.blob import ContainerClient\n"
    "c = ContainerClient(e['SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_URL'],\n"
    "    e['SNAKEMAKE_STORAGE_AZUREML_CONTAINER'], credential=DefaultAzureCredential())\n"
    "c.upload_blob('hello.txt', b'hi', overwrite=True)\n"
    "print(c.download_blob('hello.txt').readall().decode())\n"
)


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}/cmdline").exists() and bool(Path(f"/proc/{pid}/cmdline").read_bytes())


def test_up_prints_an_environment_that_reaches_the_stack_by_token_and_down_stops_it(tmp_path):
    folder = tmp_path / "stack"
    up = [sys.executable, "-m", "aml_local", "up", "--dir", str(folder)]
    script = f'eval "$({" ".join(up)})" && {sys.executable} -c "$CLIENT"'
    # a user's shell: no identity of its own, not yet pointed at any stack
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSI_", "AZUREML_"))}
    pids: list[int] = []
    try:
        proc = subprocess.run(
            ["bash", "-c", script],
            env={**env, "CLIENT": CLIENT},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["genomics-cluster", "hi"]
        printed = (folder / "env.sh").read_text()
        secret = (folder / "service" / "identity" / "user.secret").read_text().strip()
        assert secret not in printed and "KEY" not in printed and "https://" in printed
        stack = json.loads((folder / "stack.json").read_text())
        pids += [stack["azurite_pid"], stack["service_pid"]]
        assert all(_alive(pid) for pid in pids)
    finally:
        down = subprocess.run(
            [sys.executable, "-m", "aml_local", "down", "--dir", str(folder)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert down.stdout.strip() == "stopped: service, azurite"
    assert not any(_alive(pid) for pid in pids)
