"""Clusters through `snakemake --executor aml`: read from the workspace once at start, each job
on the smallest that fits it; what cannot run fails before anything is submitted."""

from pathlib import Path

import pytest

from aml_bridge.model.specs.common import run_tag_key
from tests.executor.conftest import QC_CLUSTER
from tests.fixtures.workflow import snakemake

SIZED = """
rule all:
    input:
        "small.txt",
        "big.txt",


rule small:
    output:
        "small.txt",
    resources:
        mem_mb=1000,
    shell:
        "echo small > {output}"


rule big:
    output:
        "big.txt",
    threads: 8
    resources:
        mem_mb=20000,
    shell:
        "echo big > {output}"


rule huge:
    output:
        "huge.txt",
    threads: 64
    shell:
        "echo huge > {output}"
"""
CLUSTERS = ("--aml-clusters", "genomics-cluster", QC_CLUSTER)


@pytest.fixture
def sized_workflow(tmp_path: Path) -> Path:
    wf = tmp_path / "sized"
    wf.mkdir()
    (wf / "Snakefile").write_text(SIZED)
    return wf


def job_puts(service) -> list[dict]:
    return [
        r
        for r in service.requests()
        if r["method"] == "PUT" and r["route"].endswith("/jobs/{name}")
    ]


def test_each_job_runs_on_the_smallest_cluster_that_fits_it(aml_run, sized_workflow):
    proc = snakemake(sized_workflow, *aml_run.args(*CLUSTERS))
    assert "qc-cluster (STANDARD_D2S_V3: 2 cores, 8192 MB)" in proc.stderr  # read at start
    run_id = proc.stderr.split("aml: run ", 1)[1].split(",", 1)[0]
    jobs = {j.tags["snakemake_rule"]: j for j in aml_run.run_jobs(run_tag_key(run_id))}
    assert jobs["small"].compute == QC_CLUSTER and jobs["big"].compute == "genomics-cluster"
    assert {j.status for j in jobs.values()} == {"Completed"}
    assert not [j for j in jobs.values() if j.resources and j.resources.instance_type]


def test_a_job_no_cluster_fits_fails_before_submission(aml_run, sized_workflow):
    proc = snakemake(sized_workflow, *aml_run.args("huge.txt", *CLUSTERS), check=False)
    assert proc.returncode != 0
    assert "huge needs 64 threads" in proc.stderr
    assert "genomics-cluster (STANDARD_D8S_V3: 8 cores, 32768 MB)" in proc.stderr
    assert job_puts(aml_run.service) == []


def test_an_unknown_cluster_fails_the_run_at_start_naming_it(aml_run, sized_workflow):
    args = aml_run.args("--aml-clusters", "genomics-cluster", "no-such-cluster")
    proc = snakemake(sized_workflow, *args, check=False)
    assert proc.returncode != 0
    assert "cluster no-such-cluster does not exist in workspace" in proc.stderr
    assert job_puts(aml_run.service) == []
