"""`aml-genomics export`: the DAG as one Azure ML pipeline job, submitted through the SDK as
`az ml job create --file` does, running on the local service with no Snakemake on the client."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from azure.core.exceptions import HttpResponseError

from aml_bridge.admin.cli import build_parser
from aml_bridge.admin.cli_settings import DEFAULT_PREFIX
from aml_bridge.model.export import ExportedRule, ExportedRun, ExportError, pipeline_yaml
from aml_bridge.model.folder_prefix import folder_prefix
from aml_local.launcher import INHERITED_CLOUD_ENV
from tests.executor.test_e2e_profile import alignments, prepare
from tests.executor.test_workspace_cli import cli as workspace_cli
from tests.executor.test_workspace_cli import tool_env
from tests.fixtures.workflow import copy_workflow, make_demo_data, snakemake

ROWS = ["B\tL001\tdata/reads/B_L001_R1.fastq.gz\tdata/reads/B_L001_R2.fastq.gz"]
CONFIG = ("samples=config/samples.tsv", "reference=data/reference.fa")
TERMINAL = {"Completed", "Failed", "Canceled"}
BAM = "results/mapped/B.bam"


def cli(service, wf: Path, *args: str):
    """aml-genomics with the workflow's own (git-tracked) sheet and data inside it."""
    return workspace_cli(service, wf, None, *args, config=CONFIG)


def wait(ml, name: str, timeout_s: float = 600):
    deadline = time.monotonic() + timeout_s
    while (job := ml.jobs.get(name)).status not in TERMINAL:
        assert time.monotonic() < deadline, f"pipeline {name} still {job.status}"
        time.sleep(1)
    return job


def test_setup_export_submit_gives_the_bams_of_a_local_run(
    fresh_aml_service, tmp_path, monkeypatch
):
    from azure.ai.ml import load_job

    service = fresh_aml_service()
    data = make_demo_data(tmp_path / "demo", "--pairs", "300", "--genome-size", "20000")
    local, wf = copy_workflow(tmp_path / "local"), copy_workflow(tmp_path / "aml")
    for folder in (local, wf):
        shutil.copytree(data, folder / "data")
        prepare(folder, ROWS, "data/reference.fa")
    snakemake(local, BAM, "--cores", "2", "--config", *CONFIG)

    refused = cli(service, wf, "export")  # nothing registered yet
    assert refused.returncode == 1
    assert "not registered: bwa_index:" in refused.stderr
    assert "run aml-genomics setup first" in refused.stderr
    setup = cli(service, wf, "setup", "--json")
    assert setup.returncode == 0, setup.stderr[-3000:]
    steps = json.loads(setup.stdout)["steps"]
    registered = dict(s["name"].split(":") for s in steps if s["kind"] == "component")
    proc = cli(service, wf, "export", BAM, "-o", "pipeline.yml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "az ml job create --file pipeline.yml" in proc.stdout
    text = (wf / "pipeline.yml").read_text()
    doc = yaml.safe_load(text)
    assert doc["settings"]["force_rerun"] is True  # Snakemake chose the jobs: all of them run
    nodes = doc["jobs"]
    assert {"bwa_index", "bwa_mem", "samtools_markdup"} <= set(nodes) and "multiqc" not in nodes
    after_index = nodes["bwa_mem"]["inputs"]["after_bwa_index"]
    assert after_index == "${{parent.jobs.bwa_index.outputs.results}}"
    ml = service.ml_client()
    for node in nodes.values():  # each node runs the registered component of its rule
        name, version = node["component"].removeprefix("azureml:").split(":")
        assert ml.components.get(name, version=version).type == "parallel"
    # fan-in: multiqc's component can wait for every rule it reads (the rule graph)
    multiqc = next(iter(ml.components.list(name="multiqc")))
    assert {"after_fastqc", "after_mosdepth", "after_samtools_stats"} <= set(multiqc.inputs)

    pipeline = ml.jobs.create_or_update(load_job(source=io.StringIO(text)))
    assert wait(ml, pipeline.name).status == "Completed"
    bam = tmp_path / "B.bam"
    folder = folder_prefix(DEFAULT_PREFIX, wf).split("/paths/", 1)[1]  # the profile's
    blob = service.container().download_blob(f"{folder}/{BAM}")
    bam.write_bytes(blob.readall())
    assert alignments(bam) == alignments(local / BAM)

    # a reference to a version that is not registered: the service refuses the pipeline
    nodes["bwa_mem"]["component"] = "azureml:bwa_mem:0000000000000000"
    with pytest.raises(HttpResponseError, match="bwa_mem:0000000000000000"):
        ml.jobs.create_or_update(load_job(source=io.StringIO(yaml.safe_dump(doc))))
    monkeypatch.delenv(INHERITED_CLOUD_ENV, raising=False)  # set by the SDK client above

    # the executor's group steps (fastqc in the aml profile) run the registered component too
    fastqc = [f"results/qc/fastqc/B/B_L001_{r}_fastqc.zip" for r in ("R1", "R2")]
    subprocess.run(
        [sys.executable, "-m", "snakemake", *fastqc, "--profile", "workflow_profiles/aml",
         "--aml-spec-dir", "specs", "--config", *CONFIG],
        cwd=wf, env=tool_env(service), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (spec,) = (wf / "specs").glob("*.yaml")
    step = yaml.safe_load(spec.read_text())["jobs"]["members"]
    assert step["component"] == f"azureml:fastqc:{registered['fastqc']}"
    assert "task" not in step and step["resources"]["instance_count"] >= 1

    # up to date now: a second export leaves out every job that Snakemake would skip
    again = cli(service, wf, "export", BAM, "-o", "again.yml")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Nothing to export" in again.stdout


def rule(name: str, *upstream: str, jobs: int = 1) -> ExportedRule:
    folder = f"azureml://datastores/workspaceblobstore/paths/out/.snakemake/aml/groups/{name}/"
    return ExportedRule(name, jobs, "genomics-cluster", 1, 1, 0, 86400, folder, upstream, {})


def test_nodes_wait_for_every_rule_they_read_and_load_as_a_pipeline_job():
    from azure.ai.ml import load_job

    rules = (rule("multiqc", "fastqc", "mosdepth"), rule("mosdepth", "bwa_mem"),
             rule("bwa_mem", jobs=3), rule("fastqc", jobs=4))  # fmt: skip
    run = ExportedRun("r1", "exp", "azureml://datastores/workspaceblobstore/paths/p/", rules)
    assert ExportedRun.from_json(run.to_json()) == run
    refs = {r.rule: f"azureml:{r.rule}:1" for r in rules}
    doc = pipeline_yaml(run, refs)
    assert list(doc["jobs"]) == ["bwa_mem", "fastqc", "mosdepth", "multiqc"]  # running order
    assert doc["jobs"]["multiqc"]["inputs"] == {
        "members": "${{parent.inputs.multiqc_members}}",
        "snakemake_plugins": "${{parent.inputs.snakemake_plugins}}",
        "after_fastqc": "${{parent.jobs.fastqc.outputs.results}}",
        "after_mosdepth": "${{parent.jobs.mosdepth.outputs.results}}",
    }
    job = load_job(source=io.StringIO(yaml.safe_dump(doc)))
    assert job.jobs["fastqc"].component == "fastqc:1"  # a reference, resolved on submission
    assert job.settings.force_rerun is True  # every exported job runs, unless reuse is allowed
    assert pipeline_yaml(run, refs, allow_reuse=True)["settings"]["force_rerun"] is False
    assert build_parser().parse_args(["export", "--allow-reuse"]).allow_reuse is True
    assert build_parser().parse_args(["export"]).allow_reuse is False
    with pytest.raises(ExportError, match="rule\\(s\\) fastqc, mosdepth: run aml-genomics setup"):
        pipeline_yaml(run, {"bwa_mem": "azureml:bwa_mem:1", "multiqc": "azureml:multiqc:1"})
    cycle = ExportedRun("r2", "exp", run.plugin_bundle, (rule("a", "b"), rule("b", "a")))
    with pytest.raises(ExportError, match="a, b depend on each other"):
        pipeline_yaml(cycle, {"a": "azureml:a:1", "b": "azureml:b:1"})
