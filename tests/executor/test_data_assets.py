"""`reference: azureml:NAME@latest` (or `:VERSION`): a registered data asset, resolved for the
run, its version logged, handed to the jobs; no storage account settings anywhere."""

from __future__ import annotations

import json
import shutil
import uuid

from aml_bridge.model.specs.common import run_tag_key
from aml_local.launcher import INHERITED_CLOUD_ENV
from tests.executor.conftest import FAST_STATUS
from tests.executor.test_e2e_profile import alignments, download, prepare
from tests.executor.test_e2e_small import routes, run_id_of
from tests.fixtures.workflow import copy_workflow, make_demo_data, snakemake

ROWS = ["B\tL001\tdata/reads/B_L001_R1.fastq.gz\tdata/reads/B_L001_R2.fastq.gz"]


def aml_args(run, reference: str, *extra: str) -> list[str]:
    return [
        "--profile", "workflow_profiles/aml", *FAST_STATUS, "--default-storage-prefix", run.prefix,
        "--configfile", "config/aml.yaml", "--config", f"reference={reference}",
        "--retries", "0", *extra,
    ]  # fmt: skip


def register(run, name: str, version: str, blob: str, data: bytes) -> None:
    from azure.ai.ml.entities import Data

    run.service.container().upload_blob(f"{run.path}/{blob}", data, overwrite=True)
    path = f"azureml://datastores/workspaceblobstore/paths/{run.path}/{blob}"
    run.service.ml_client().data.create_or_update(
        Data(name=name, version=version, type="uri_file", path=path)
    )


def test_reference_as_data_asset_latest_maps_like_a_local_run(tmp_path, aml_run, monkeypatch):
    for var in ("SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_URL", "SNAKEMAKE_STORAGE_AZUREML_CONTAINER"):
        monkeypatch.delenv(var, raising=False)
    data = make_demo_data(tmp_path / "demo", "--pairs", "300", "--genome-size", "20000")
    local, remote = copy_workflow(tmp_path / "local"), copy_workflow(tmp_path / "aml")
    for wf in (local, remote):
        shutil.copytree(data, wf / "data")
        prepare(wf, ROWS, "data/reference.fa")
    name = f"ref{uuid.uuid4().hex[:8]}"
    register(aml_run, name, "1", "assets/old.fa", b">old\nACGT\n")
    register(aml_run, name, "2", "assets/genome.fa", (data / "reference.fa").read_bytes())
    monkeypatch.delenv(INHERITED_CLOUD_ENV, raising=False)  # set by the SDK client above
    snakemake(local, "results/mapped/B.bam", "--cores", "2", "--configfile", "config/aml.yaml")
    proc = snakemake(remote, *aml_args(aml_run, f"azureml:{name}@latest", "results/mapped/B.bam"))
    assert f"azureml:{name}@latest: data asset {name}:2 at azureml://" in proc.stderr
    bam = download(aml_run, "results/mapped/B.bam", tmp_path / "B.bam")
    assert alignments(bam) == alignments(local / "results/mapped/B.bam")
    # the jobs were told where the asset and the datastore are: they never ask the workspace
    jobs = aml_run.run_jobs(run_tag_key(run_id_of(proc.stderr)))  # this run's, not the session's
    [index] = [j for j in jobs if j.tags["snakemake_rule"] == "bwa_index"]
    handed = json.loads(index.environment_variables["SNAKEMAKE_STORAGE_AZUREML_DATA_ASSETS"])
    assert handed[f"azureml:{name}@latest"].endswith("/assets/genome.fa")
    assert "SNAKEMAKE_STORAGE_AZUREML_DATASTORES" in index.environment_variables


def test_missing_data_asset_fails_at_start_naming_it(tmp_path, aml_run):
    wf = copy_workflow(tmp_path / "aml")
    make_demo_data(wf / "data", "--pairs", "100", "--genome-size", "5000")
    prepare(wf, ROWS, "data/reference.fa")
    proc = snakemake(wf, *aml_args(aml_run, "azureml:hg38-missing:7"), check=False)
    assert proc.returncode != 0
    assert "data asset azureml:hg38-missing:7: no data asset hg38-missing:7" in proc.stderr
    assert routes(aml_run.service, "PUT", "/jobs/{name}") == 0
