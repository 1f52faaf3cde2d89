"""End-to-end setup: Azurite, the local Azure ML service, and `snakemake --executor aml` args.

One service for all executor tests (faults reset and request log cleared per test), on the
HTTPS Azurite that takes bearer tokens. No storage secret anywhere: snakemake signs in as the
service's "user" identity, jobs as their cluster's managed identity, both through the
service's managed-identity endpoint (MSI_ENDPOINT/MSI_SECRET, as on Azure ML compute).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.aml_service import AmlService, client_environment
from tests.fixtures.azurite import Azurite

# A parallel step's run() call limit when its node sets none: Azure ML's is 60 s; here shorter,
# so that a step relying on the default fails within seconds (tests/executor/test_groups.py).
STEP_DEFAULT_TIMEOUT_S = 5
# A small second cluster next to the default genomics-cluster (Standard_D8s_v3, 4 nodes).
QC_CLUSTER = "qc-cluster"
# Status rounds every second, for jobs of seconds (a real flag a user may set; the executor
# applies it from the first round on, not Snakemake's default of 10 s).
FAST_STATUS = ("--aml-status-interval", "1")


@dataclass
class AmlRun:
    """What `snakemake --executor aml` needs to run against the service."""

    service: AmlService
    prefix: str
    account_url: str

    @property
    def container(self) -> str:
        return self.service.info["datastores"]["workspaceblobstore"]

    def args(self, *extra: str) -> list[str]:
        return [
            "--executor", "aml",
            "--default-storage-provider", "azureml",
            "--default-storage-prefix", self.prefix,
            "--storage-azureml-account-url", self.account_url,
            "--storage-azureml-container", self.container,
            *FAST_STATUS,
            "--jobs", "4",
            *extra,
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        return self.service.executor_environment()

    @property
    def path(self) -> str:
        """The prefix's folder in the datastore's container."""
        return self.prefix.split("/paths/", 1)[1]

    def blob_names(self) -> set[str]:
        return {b.name for b in self.service.container().list_blobs(name_starts_with=self.path)}

    def run_jobs(self, tag_key: str | None = None) -> list:
        """Jobs in the service (all, or those carrying a tag key)."""
        jobs = self.service.ml_client().jobs
        return list(jobs.list(tag=tag_key) if tag_key else jobs.list())


@pytest.fixture(scope="session")
def executor_service(
    aml_azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AmlService]:
    service = AmlService(
        aml_azurite, tmp_path_factory.mktemp("executor-service") / "state", max_nodes=4,
        clusters=[f"{QC_CLUSTER}:Standard_D2s_v3:2"],
        blob_container="executor-blobs", artifact_container="executor-artifacts",
        step_timeout_s=STEP_DEFAULT_TIMEOUT_S,
    )  # fmt: skip
    with service.running():
        yield service


@pytest.fixture
def aml_run(
    executor_service: AmlService, aml_azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> AmlRun:
    """The service with no faults and an empty request log; environment set for snakemake."""
    executor_service.set_faults()
    executor_service.clear_requests()
    return run_on(executor_service, aml_azurite, monkeypatch)


def run_on(service: AmlService, azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> AmlRun:
    """A run on a fresh prefix of `service`, its environment set for snakemake."""
    run = AmlRun(
        service,
        prefix=f"azureml://datastores/workspaceblobstore/paths/t{uuid.uuid4().hex[:10]}",
        account_url=azurite.blob_endpoint,
    )
    client_environment(monkeypatch, service)
    for key, value in run.env().items():
        monkeypatch.setenv(key, value)
    return run


@pytest.fixture
def small_workflow(tmp_path: Path) -> Path:
    """Two samples through two rules, plus a rule that fails like a truncated input would."""
    wf = tmp_path / "small"
    wf.mkdir()
    (wf / "Snakefile").write_text(SMALL_SNAKEFILE)
    return wf


SMALL_SNAKEFILE = """
rule all:
    input:
        expand("results/upper/{s}.txt", s=["a", "b"]),


rule make:
    output:
        "results/raw/{s}.txt",
    shell:
        "echo hello {wildcards.s} > {output}"


rule upper:
    input:
        "results/raw/{s}.txt",
    output:
        "results/upper/{s}.txt",
    resources:
        runtime=5,
    shell:
        "tr a-z A-Z < {input} > {output}"


rule env_names:
    output:
        "results/env_names.txt",
    shell:
        "env | cut -d= -f1 | sort > {output}"


rule truncated:
    output:
        "results/bad.txt",
    shell:
        "echo 'ERROR: reads_R1.fastq.gz is truncated' >&2; exit 2"


rule slow:
    output:
        "results/slow/{i}.txt",
    shell:
        "sleep 300; touch {output}"
"""
