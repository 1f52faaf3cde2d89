"""FASTQ sharding under --profile aml against the local Azure ML service: the shards of a unit
are items of the BWA-MEM parallel step, the merged BAM holds the records of a local unsharded
run, and no shard file stays on the datastore."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.executor.test_e2e_profile import SARSCOV2, download, profile_args
from tests.fixtures.workflow import copy_workflow, git_track, snakemake
from tests.workflow.test_shard import equal_fraction

TARGET = "results/mapped/sars.bam"


def workflow_with_reads(wf: Path, *config_lines: str) -> Path:
    """The real SARS-CoV-2 reads (100 pairs) beside a git-tracked sheet and config."""
    copy_workflow(wf)
    shutil.copytree(SARSCOV2, wf / "data")
    (wf / "config" / "samples.tsv").write_text(
        "sample\tunit\tfq1\tfq2\nsars\t1\tdata/test_1.fastq.gz\tdata/test_2.fastq.gz\n"
    )
    (wf / "config" / "run.yaml").write_text(
        "\n".join(["samples: config/samples.tsv", "reference: data/genome.fasta", *config_lines])
    )
    git_track(wf)
    return wf


def test_shards_are_items_of_the_bwa_mem_step_and_leave_nothing_on_the_datastore(tmp_path, aml_run):
    local = workflow_with_reads(tmp_path / "local")
    snakemake(local, TARGET, "--cores", "2", "--configfile", "config/run.yaml")
    remote = workflow_with_reads(tmp_path / "aml", "split_fastq: 25")
    proc = snakemake(
        remote,
        TARGET,
        *profile_args(aml_run, "--retries", "0", "--aml-status-interval", "1"),
        *("--configfile", "config/run.yaml"),
    )
    # four shards, one pipeline job whose parallel step aligned each as an item
    assert "bwa_mem[4 jobs]" in proc.stderr
    bam = download(aml_run, TARGET, tmp_path / "sars.bam")
    assert equal_fraction(bam, local / TARGET) >= 0.999
    blobs = aml_run.blob_names()
    shard_blobs = [
        name
        for name in blobs
        if f"{aml_run.path}/results/shards/" in name and not name.endswith(".pairs")
    ]
    assert shard_blobs == []
    assert not [name for name in blobs if f"{aml_run.path}/results/mapped/units/" in name]
    assert f"{aml_run.path}/{TARGET}" in blobs
