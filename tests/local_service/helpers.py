"""Small helpers shared by the local-service tests (azure.ai.ml imported lazily)."""

from __future__ import annotations

import sys
import time
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

TERMINAL = {"Completed", "Failed", "Canceled"}
READS = str(Path(__file__).resolve().parents[1] / "data" / "sarscov2" / "test_1.fastq.gz")
IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"
PYTHON = f"python={sys.version_info.major}.{sys.version_info.minor}"
# What the tests' jobs import (a remote Snakemake job and its storage plugin), and what the
# parallel runtime needs besides (Azure's docs: azureml-core, azureml-dataset-runtime[fuse]).
# Every test environment has one of these two pip sections, so each is built once per cache.
JOB_PIP = [f"snakemake=={installed_version('snakemake')}", "azure-identity", "azure-storage-blob"]
PARALLEL_PIP = [*JOB_PIP, "azureml-core>=1.60,<2", "azureml-dataset-runtime[fuse]>=1.60,<2"]


def conda_file(pip: list[str], *more: str) -> dict:
    return {"channels": ["conda-forge"], "dependencies": [PYTHON, "pip", *more, {"pip": pip}]}


def ensure_environment(
    ml: Any, name: str | None = None, version: str = "1", parallel: bool = False
) -> str:
    """A registered environment with what the tests' jobs need (`parallel`: and what a
    parallel step's runtime needs; named genomics or genomics-parallel by default)."""
    from azure.ai.ml.entities import Environment

    name = name or ("genomics-parallel" if parallel else "genomics")
    conda = conda_file(PARALLEL_PIP if parallel else JOB_PIP)
    ml.environments.create_or_update(
        Environment(name=name, version=version, image=IMAGE, conda_file=conda)
    )
    return f"azureml:{name}:{version}"


def shell_job(name: str, cmd: str, env: str, compute: str = "genomics-cluster", **kw: Any):
    from azure.ai.ml import command

    return command(name=name, command=cmd, environment=env, compute=compute, **kw)


def wait_for(ml: Any, name: str, statuses: set[str] = TERMINAL, timeout_s: float = 60) -> Any:
    """Poll jobs.get until the job reaches one of `statuses`; the job."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = ml.jobs.get(name)
        if job.status in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {name} still {job.status} after {timeout_s} s")
        time.sleep(0.1)


def run_error(ml: Any, name: str) -> dict | None:
    """The run-history error of a job (what `jobs.stream` reports on failure)."""
    details = ml.jobs._runs_operations.get_run_details(name)
    return details.error.as_dict() if details.error else None


def workspace_path(service: Any) -> str:
    return (
        f"/subscriptions/{service.subscription_id}/resourceGroups/{service.resource_group}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{service.workspace}"
    )


def api_call(
    service: Any, method: str, path: str, body: Any = None, token: str | None = "default"
) -> tuple[int, dict, Any]:
    """A raw REST call as the SDK makes it (HTTPS, the user's bearer token from the service's
    identity endpoint unless `token` is given): status, headers, JSON body."""
    import json
    import ssl
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(service.base_url + path, data, method=method)
    req.add_header("Content-Type", "application/json")
    if token == "default":
        token = service.token()
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    tls = ssl.create_default_context(cafile=service.ca_bundle)
    try:
        with urllib.request.urlopen(req, context=tls) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read() or b"null")
