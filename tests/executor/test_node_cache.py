"""The node-local input cache end to end: `snakemake --executor aml` on the local service, whose
nodes stay allocated between runs and give their jobs AZ_BATCH_NODE_SHARED_DIR as Batch does.

A changed index (new content, same path) is used by the next run's jobs on the node that
cached the old one; unchanged, the node's jobs share one downloaded copy, and the service's
traffic counts show it read from the datastore once (the jobs reach storage through the
service's proxy, as the workspace's datastore points them).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.executor.conftest import AmlRun
from tests.fixtures.workflow import snakemake

# Each job prints the index it read, and the inode of its local copy: jobs served by one cache
# entry on one node print the same inode (hard links of one downloaded file).
SNAKEFILE = """
rule all:
    input:
        expand("results/{run}/seen_{i}.txt", i=range(int(config["jobs"])), run=config["run"]),


rule read_index:
    input:
        "ref/genome.fa.bwt",
    output:
        "results/{run}/seen_{i}.txt",
    shell:
        "{{ cat {input}; stat -c %i {input}; echo \\"$AZ_BATCH_NODE_ID\\"; }} > {output}"
"""
CACHE_ARGS = ("--storage-azureml-node-cache-min-bytes", "1")


@pytest.fixture
def one_node_run(fresh_aml_service, monkeypatch) -> AmlRun:
    """A service of one node that stays allocated for ten minutes after each job."""
    service = fresh_aml_service(max_nodes=1, node_idle_s=600)
    run = AmlRun(
        service,
        prefix=f"azureml://datastores/workspaceblobstore/paths/t{uuid.uuid4().hex[:10]}",
        account_url=service.blob_proxy_url,
    )
    for key, value in run.env().items():
        monkeypatch.setenv(key, value)
    return run


def seen(run: AmlRun, name: str) -> tuple[str, str, str]:
    """(index content, inode of the job's copy, node id) a job wrote."""
    text = run.service.container().download_blob(f"{run.path}/results/{name}").readall()
    content, inode, node = text.decode().rsplit("\n", 3)[:3]
    return content, inode, node


def node_cache_entries(run: AmlRun) -> list[Path]:
    nodes = Path(run.service.state_dir) / "nodes"
    return [
        p
        for p in nodes.glob("*/*/shared/snakemake-azureml-cache/*/*")
        if not p.name.endswith(".lock")
    ]


def index_bytes_read_by_jobs(run: AmlRun) -> int:
    """What the jobs read of the index from the datastore, by the service's traffic counts."""
    rows = run.service.control("GET", "traffic")["blobs"]
    index = f"{run.path}/ref/genome.fa.bwt"
    return sum(r["read"] for r in rows if r["blob"] == index and r["job"] != "client")


def test_a_changed_index_reaches_the_next_runs_jobs_on_a_node_that_cached_the_old(
    one_node_run, tmp_path
):
    run = one_node_run
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    index = run.service.container().get_blob_client(f"{run.path}/ref/genome.fa.bwt")
    index.upload_blob(b"index v1\n")

    snakemake(tmp_path, *run.args(*CACHE_ARGS, "--config", "run=one", "jobs=2"))
    first = [seen(run, f"one/seen_{i}.txt") for i in (0, 1)]
    assert [c for c, _, _ in first] == ["index v1"] * 2
    assert first[0][1:] == first[1][1:]  # one node, one cached copy for both jobs
    assert index_bytes_read_by_jobs(run) == len(b"index v1\n")  # read from the datastore once

    index.upload_blob(b"index v2\n", overwrite=True)  # new content, same path and size
    snakemake(tmp_path, *run.args(*CACHE_ARGS, "--config", "run=two", "jobs=1"))
    content, inode, node = seen(run, "two/seen_0.txt")

    assert content == "index v2"
    assert node == first[0][2]  # the node that cached v1
    assert inode != first[0][1]  # a new entry
    cached = [p.read_bytes() for p in node_cache_entries(run)]
    assert b"index v2\n" in cached and b"index v1\n" not in cached  # the old version is gone
