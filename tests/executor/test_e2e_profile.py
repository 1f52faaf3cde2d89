"""The aml profile on the real workflow: dry run offline from Azure ML, and a full run."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.executor.conftest import FAST_STATUS, QC_CLUSTER
from tests.fixtures.workflow import copy_workflow, git_track, make_demo_data, snakemake


@pytest.fixture
def aml_workflow(tmp_path, aml_run):
    """The demo data in the workflow folder, local only: the run itself puts it on the datastore."""
    wf = copy_workflow(tmp_path / "wf")
    make_demo_data(wf / "demo", "--pairs", "300", "--genome-size", "20000")
    sheet = wf / "demo" / "samples.tsv"  # paths relative to the workflow, as storage maps them
    sheet.write_text(sheet.read_text().replace(f"{wf}/", ""))
    git_track(wf, "demo/samples.tsv")
    return wf


DEMO = ("--config", "samples=demo/samples.tsv", "reference=demo/reference.fa")


def profile_args(run, *extra: str) -> list[str]:
    return [
        "--profile", "workflow_profiles/aml",
        *FAST_STATUS,  # the profile's 15 s (growing to 2 min) suits real jobs of minutes
        "--default-storage-prefix", run.prefix,
        "--storage-azureml-account-url", run.account_url,
        "--storage-azureml-container", run.container,
        *extra,
    ]  # fmt: skip


def test_dry_run_contacts_only_storage_and_never_imports_azure_ai_ml(aml_run, aml_workflow):
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "snakemake",
            "-n",
            *profile_args(aml_run, *DEMO),
        ],
        cwd=aml_workflow,
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = [line for line in proc.stderr.splitlines() if not line.startswith("import time:")]
    assert proc.returncode == 0, proc.stdout[-3000:] + "\n".join(messages[-40:])
    for rule in ("bwa_index", "bwa_mem", "fastqc", "multiqc"):
        assert rule in proc.stdout
    imported = [line for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert any("aml_bridge.executor.executor" in line for line in imported)  # the plugin was loaded
    assert not [line for line in imported if "azure.ai.ml" in line]
    assert aml_run.service.requests() == []
    assert aml_run.blob_names() == set()  # the local inputs were planned from, not uploaded


SARSCOV2 = Path(__file__).resolve().parents[1] / "data" / "sarscov2"


def alignments(bam: Path) -> list[str]:
    """Alignment records without the header (@PG lines differ between runs by design)."""
    out = subprocess.run(["samtools", "view", str(bam)], capture_output=True, text=True, check=True)
    return sorted(out.stdout.splitlines())


def prepare(wf: Path, sheet_rows: list[str], reference: str) -> None:
    """Sample sheet and config tracked by git; the data stays out of git and local: the run
    uploads it to the datastore."""
    (wf / "config" / "samples.tsv").write_text("\n".join(["sample\tunit\tfq1\tfq2", *sheet_rows]))
    (wf / "config" / "aml.yaml").write_text(
        f"samples: config/samples.tsv\nreference: {reference}\n"
    )
    git_track(wf)


def download(run, name: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(run.service.container().download_blob(f"{run.path}/{name}").readall())
    return dest


def local_and_aml_runs(
    tmp_path, aml_run, data: Path, rows: list[str], reference: str, *extra: str
) -> tuple[Path, Path, list[str]]:
    """A local run and a `--profile aml` run (plus `extra` args) of the same data; returns
    both workflow folders and the aml run's args."""
    local = copy_workflow(tmp_path / "local")
    remote = copy_workflow(tmp_path / "aml")
    for wf in (local, remote):
        shutil.copytree(data, wf / "data")
        prepare(wf, rows, reference)
    snakemake(local, "--cores", "2", "--configfile", "config/aml.yaml")
    args = profile_args(aml_run, "--configfile", "config/aml.yaml", "--retries", "0", *extra)
    first = snakemake(remote, *args)
    inputs = len(rows) * 2 + 1
    assert f"aml: {inputs} local input(s) on the datastore" in first.stderr
    uploaded = aml_run.blob_names()
    for path in (p for row in rows for p in row.split("\t")[2:4]):
        assert f"{aml_run.path}/{path}" in uploaded
    # a rerun with unchanged inputs uploads nothing and has nothing to do
    again = snakemake(remote, *args)
    assert "Nothing to be done" in again.stdout + again.stderr
    return local, remote, args


def demo_rows() -> list[str]:
    """The demo sheet's rows (A has two lanes), paths inside the workflow folder."""
    return [
        "\t".join([s, u, f"data/reads/{s}_{u}_R1.fastq.gz", f"data/reads/{s}_{u}_R2.fastq.gz"])
        for s, u in [("A", "L001"), ("A", "L002"), ("B", "L001"), ("C", "L001")]
    ]


def test_aml_profile_on_real_sarscov2_reads(tmp_path, aml_run):
    rows = ["\t".join(["sars", "1", "data/test_1.fastq.gz", "data/test_2.fastq.gz"])]
    local, _, _ = local_and_aml_runs(tmp_path, aml_run, SARSCOV2, rows, "data/genome.fasta")
    bam = download(aml_run, "results/mapped/sars.bam", tmp_path / "sars.bam")
    assert alignments(bam) == alignments(local / "results/mapped/sars.bam")


def test_truncated_fastq_stops_the_run_with_azure_ml_error_and_log(tmp_path, aml_run):
    """A job that really fails on Azure ML: the run ends with Azure ML's error, the Studio
    link and the job's own log naming the truncated file; no BAM reaches the datastore."""
    data = make_demo_data(tmp_path / "demo", "--pairs", "300", "--genome-size", "20000")
    wf = copy_workflow(tmp_path / "aml")
    shutil.copytree(data, wf / "data")
    r1 = wf / "data" / "reads" / "B_L001_R1.fastq.gz"
    r1.write_bytes(r1.read_bytes()[:5000])
    reads = ["data/reads/B_L001_R1.fastq.gz", "data/reads/B_L001_R2.fastq.gz"]
    prepare(wf, ["\t".join(["trunc", "1", *reads])], "data/reference.fa")
    proc = snakemake(
        wf, *profile_args(aml_run, "--configfile", "config/aml.yaml", "--retries", "0"), check=False
    )
    assert proc.returncode != 0
    assert "Studio: https://" in proc.stderr
    assert "data/reads/B_L001_R1.fastq.gz is truncated or not valid gzip" in proc.stderr
    [log] = (wf / ".snakemake" / "aml_logs" / "bwa_mem").glob("*/1.log")
    assert "B_L001_R1.fastq.gz is truncated or not valid gzip" in log.read_text()
    assert not [name for name in aml_run.blob_names() if name.endswith(".bam")]


def test_aml_profile_values_reach_the_job_specs(tmp_path, aml_run, aml_workflow):
    """Both profiles apply under --profile aml (the workflow profile on top). With two clusters
    each job goes to the smallest that fits what its rule declares, with no instance type."""
    specs = tmp_path / "specs"
    clusters = ("--aml-clusters", "genomics-cluster", QC_CLUSTER)
    big_reference = ("--set-resources", "bwa_index:mem_mb=18600")  # a human-sized index
    args = (*DEMO, *clusters, *big_reference, "--aml-spec-dir", str(specs), "--retries", "0")
    proc = snakemake(aml_workflow, *profile_args(aml_run, *args), check=False)
    assert "job not submitted (--aml-spec-dir)" in proc.stderr
    by_rule: dict[str, dict] = {}
    for path in specs.glob("*.yaml"):
        spec = yaml.safe_load(path.read_text())
        pipeline = spec["type"] == "pipeline"  # a group: display name `rule[n jobs]`
        by_rule[
            spec["display_name"].split("[")[0] if pipeline else spec["tags"]["snakemake_rule"]
        ] = spec
    assert by_rule["bwa_index"]["type"] == "command"
    assert by_rule["bwa_index"]["compute"] == "azureml:genomics-cluster"
    assert not [
        r for r, spec in by_rule.items() if spec["type"] == "command" and "resources" in spec
    ]
    # FastQC is a parallel step on the smallest cluster its members fit (BWA-MEM waits for
    # the index, which a spec-only run never makes)
    fastqc = by_rule["fastqc"]["jobs"]["members"]
    assert fastqc["type"] == "parallel" and fastqc["compute"] == f"azureml:{QC_CLUSTER}"
    assert fastqc["retry_settings"]["timeout"] == 60 * 60  # the default profile's runtime
    assert fastqc["max_concurrency_per_instance"] == 2  # 2 cores / 1 thread
    # the clusters were read from the workspace; nothing was submitted
    assert not [r for r in aml_run.service.requests() if r["method"] != "GET"]
