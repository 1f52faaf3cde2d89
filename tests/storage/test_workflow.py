"""The plugin driving real Snakemake runs (CLI, subprocess) with Azurite as the datastore."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fixtures.workflow import copy_workflow, git_track, write_fastq

THREE_RULES = """
SAMPLES = ["a", "b"]

rule all:
    input: "results/summary.txt"

rule upper:
    input: "data/{sample}.txt"
    output: "results/{sample}.upper.txt"
    shell: "tr a-z A-Z < {input} > {output}"

rule count:
    input: "results/{sample}.upper.txt"
    output: "results/{sample}.count.txt"
    shell: "wc -c < {input} > {output}"

rule summary:
    input: expand("results/{sample}.count.txt", sample=SAMPLES)
    output: "results/summary.txt"
    shell: "cat {input} > {output}"
"""

MANY_INPUTS = """
rule all:
    input: "merged.txt"

rule merge:
    input: expand("many/f{i}.txt", i=range(2000))
    output: "merged.txt"
    shell: "cat {input} > {output}"
"""

STAGED_INPUT = """
from snakemake_storage_plugin_azureml.run_storage import RunStorage

RunStorage.of(workflow).stage(["data/a.txt"])

rule upper:
    input: "data/a.txt"
    output: "results/a.upper.txt"
    shell: "tr a-z A-Z < {input} > {output}"
"""


def snakemake(workdir: Path, env: dict, prefix: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "1",
        "--default-storage-provider",
        "azureml",
        "--default-storage-prefix",
        prefix,
        *args,
    ]
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def storage_env(azurite, storage_container):
    """Settings and the key through environment variables only (never on the command line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE_STORAGE_AZUREML_")}
    env.update(
        SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_URL=azurite.blob_endpoint,
        SNAKEMAKE_STORAGE_AZUREML_CONTAINER=storage_container,
        SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_KEY=azurite.key,
    )
    return env


@pytest.mark.timeout(300)
def test_three_rule_workflow_on_the_datastore(
    tmp_path, storage_env, storage_service, storage_container
):
    blobs = storage_service.get_container_client(storage_container)
    blobs.upload_blob("run/data/a.txt", b"alpha\n")
    blobs.upload_blob("run/data/b.txt", b"beta\n")
    (tmp_path / "Snakefile").write_text(THREE_RULES)
    prefix = "azureml://datastores/workspaceblobstore/paths/run"

    first = snakemake(tmp_path, storage_env, prefix)
    assert first.returncode == 0, first.stderr
    stored = {b.name: b.etag for b in blobs.list_blobs(name_starts_with="run/results/")}
    assert sorted(stored) == [
        f"run/results/{s}.{kind}.txt" for s in "ab" for kind in ("count", "upper")
    ] + ["run/results/summary.txt"]
    summary = blobs.download_blob("run/results/summary.txt").readall().decode().split()
    assert summary == ["6", "5"]
    assert blobs.download_blob("run/results/a.upper.txt").readall() == b"ALPHA\n"
    assert storage_env["SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_KEY"] not in first.stderr + first.stdout

    again = snakemake(tmp_path, storage_env, prefix)
    assert again.returncode == 0, again.stderr
    assert "Nothing to be done" in again.stderr + again.stdout
    assert {b.name: b.etag for b in blobs.list_blobs(name_starts_with="run/results/")} == stored

    time.sleep(1.1)  # a plain upload has whole-second Last-Modified; be newer than the outputs
    blobs.upload_blob("run/data/a.txt", b"alphabet\n", overwrite=True)
    changed = snakemake(tmp_path, storage_env, prefix)
    assert changed.returncode == 0, changed.stderr
    now = {b.name: b.etag for b in blobs.list_blobs(name_starts_with="run/results/")}
    rerun = sorted(name for name in now if now[name] != stored[name])
    assert rerun == [
        "run/results/a.count.txt",
        "run/results/a.upper.txt",
        "run/results/summary.txt",
    ]
    assert blobs.download_blob("run/results/summary.txt").readall().decode().split() == ["9", "5"]


@pytest.mark.timeout(300)
def test_local_input_changed_under_an_old_mtime_rebuilds_what_depends_on_it(
    tmp_path, storage_env, storage_service, storage_container
):
    """A staged local input replaced by other content with an older mtime (copied in, say):
    the output built from the old content is rebuilt, not kept."""
    (tmp_path / "Snakefile").write_text(STAGED_INPUT)
    data = tmp_path / "data" / "a.txt"
    data.parent.mkdir()
    data.write_text("alpha\n")
    prefix = "azureml://datastores/workspaceblobstore/paths/run"
    blobs = storage_service.get_container_client(storage_container)

    first = snakemake(tmp_path, storage_env, prefix)
    assert first.returncode == 0, first.stderr
    assert blobs.download_blob("run/results/a.upper.txt").readall() == b"ALPHA\n"

    old = data.stat().st_mtime - 3600
    data.write_text("omega\n")  # same size, other content, older mtime
    os.utime(data, (old, old))
    changed = snakemake(tmp_path, storage_env, prefix)
    assert changed.returncode == 0, changed.stderr
    assert blobs.download_blob("run/results/a.upper.txt").readall() == b"OMEGA\n"

    again = snakemake(tmp_path, storage_env, prefix)
    assert "Nothing to be done" in again.stderr + again.stdout


@pytest.mark.timeout(300)
def test_dry_run_over_2000_inputs_needs_few_list_requests(
    tmp_path, storage_env, storage_service, storage_container, storage_proxy, azurite
):
    blobs = storage_service.get_container_client(storage_container)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: blobs.upload_blob(f"many/many/f{i}.txt", b"x"), range(2000)))
    (tmp_path / "Snakefile").write_text(MANY_INPUTS)
    env = {
        **storage_env,
        "SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_URL": storage_proxy.endpoint(azurite.account),
    }

    dry = snakemake(tmp_path, env, "azureml://datastores/workspaceblobstore/paths/many", "-n")
    assert dry.returncode == 0, dry.stderr
    assert "merge" in dry.stdout + dry.stderr
    assert storage_proxy.list_requests() <= 3
    assert storage_proxy.count() <= 10, storage_proxy.requests[:20]


@pytest.mark.timeout(300)
def test_aml_profile_dry_run_of_the_workflow_costs_one_listing(
    tmp_path, storage_env, storage_proxy, azurite
):
    """The real workflow, 100 samples, inputs still local (the dry run plans from them and
    uploads nothing): outputs, logs and benchmarks that do not exist yet must not cost a
    request each either (inventory root, constant disk_mb)."""
    wf = copy_workflow(tmp_path / "wf")
    rows = ["sample\tunit\tfq1\tfq2"]
    (wf / "data").mkdir()
    (wf / "data" / "ref.fa").write_text(">chr1\n" + "ACGT" * 100 + "\n")
    for i in range(100):
        pair = [f"data/S{i}_R{r}.fastq.gz" for r in (1, 2)]
        for path in pair:
            write_fastq(wf / path, [f"r{i}"])
        rows.append("\t".join([f"S{i}", "1", *pair]))
    (wf / "data" / "samples.tsv").write_text("\n".join(rows) + "\n")
    git_track(wf, "data/samples.tsv")
    env = {
        **storage_env,
        "SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_URL": storage_proxy.endpoint(azurite.account),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--profile", "workflow_profiles/aml",
         "--default-storage-prefix", "azureml://datastores/workspaceblobstore/paths/dry",
         "--config", "samples=data/samples.tsv", "reference=data/ref.fa"],
        cwd=wf, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "bwa_mem" in proc.stdout
    assert storage_proxy.count() <= 3, storage_proxy.requests[:20]
    assert storage_proxy.count(lambda method, path: method != "GET") == 0
