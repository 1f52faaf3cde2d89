"""The probe jobs of `aml-genomics check`: which probes the rules need, and what a probe's script
finds, run here with bash on this machine's tools (no server: the storage fact fails)."""

from __future__ import annotations

import os
import subprocess

from aml_bridge.admin.environment_probes import judge, probe_script, probe_targets
from aml_bridge.model.environments import choose_environment

PIP = ["snakemake==9.27.1", "azure-identity", "azure-storage-blob"]
BWA = "dependencies:\n  - bioconda::bwa=0.7.18\n  - bioconda::samtools=1.20\n"


def env(text: str | None, parallel: bool = False, path: str = "envs/bwa.yaml"):
    return choose_environment(
        aml_environment=None, container_image=None,
        conda_file=(path, text) if text else None, default_environment=None,
        base_image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04", pip=PIP,
        parallel=parallel,
    )  # fmt: skip


def run_script(script: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env).stdout


def test_one_probe_per_environment_version_and_cluster():
    bwa, runtime = env(BWA), env(None)
    uses = [
        ("bwa_index", bwa, "conda file envs/bwa.yaml"),
        ("bwa_mem", bwa, "conda file envs/bwa.yaml"),
        ("bwa_mem", env(BWA, parallel=True), "conda file envs/bwa.yaml"),
        ("count_pairs", runtime, "the runtime environment"),
    ]
    where = {"bwa_index": "small", "bwa_mem": "big", "count_pairs": "small"}
    targets = probe_targets(uses, where)
    keys = sorted((t.environment.registered_id, t.cluster, t.rules, t.parallel) for t in targets)
    assert len(keys) == 4  # bwa on two clusters, its parallel flavour, the runtime
    assert (bwa.registered_id, "big", ("bwa_mem",), False) in keys
    assert (bwa.registered_id, "small", ("bwa_index",), False) in keys
    assert sum(parallel for *_, parallel in keys) == 1


def test_probe_script_reports_each_tool_and_what_failed():
    target = probe_targets([("bwa_mem", env(BWA), "conda file envs/bwa.yaml")], {"bwa_mem": "c"})
    # a datastore name that would be shell code if it were not quoted
    output = run_script(probe_script(target[0], "ds; touch /tmp/probe-pwned", "p/$(id)"))
    outcome = judge(target[0], "Completed", "", output)
    assert "PROBE ok python: Python 3." in output
    assert "PROBE ok bwa: Version: 0.7" in output and "PROBE ok samtools: samtools 1." in output
    assert not outcome.ok  # no datastore here: the storage fact fails and names why
    assert [line.what for line in outcome.failed] == ["storage"]
    assert "storage:" in outcome.detail


def test_a_tool_missing_from_the_image_fails_the_probe_naming_it():
    text = BWA + "  - bioconda::seqkit=2.8\n"
    target = probe_targets([("split", env(text), "conda file envs/x.yaml")], {"split": "c"})[0]
    script = probe_script(target, "ds", "p").replace("seqkit version", "no-such-seqkit version")
    outcome = judge(target, "Completed", "", run_script(script))
    assert any(line.what == "seqkit" and "not found" in line.detail for line in outcome.failed)


def test_parallel_flavour_probes_the_parallel_runtime_packages():
    target = probe_targets([("bwa_mem", env(BWA, True), "envs/bwa.yaml")], {"bwa_mem": "c"})[0]
    assert target.parallel and "azureml.dataprep" in probe_script(target, "ds", "p")
    assert "parallel step" in target.check


def test_a_job_that_never_ran_its_script_is_reported_with_azure_mls_error():
    target = probe_targets([("bwa_mem", env(BWA), "envs/bwa.yaml")], {"bwa_mem": "c"})[0]
    outcome = judge(target, "Failed", "Image build failed: pip could not install nosuchpkg", "")
    assert not outcome.ok and "Image build failed" in outcome.detail


def test_the_probe_records_whether_the_node_cache_has_a_place(tmp_path):
    target = probe_targets([("bwa_mem", env(BWA), "envs/bwa.yaml")], {"bwa_mem": "c"})[0]
    script = probe_script(target, "ds", "p")
    base = {"PATH": os.environ["PATH"]}
    shared = {**base, "AZ_BATCH_NODE_SHARED_DIR": str(tmp_path)}
    assert f"PROBE ok node-cache: AZ_BATCH_NODE_SHARED_DIR {tmp_path} writable" in run_script(
        script, shared
    )
    missing = {**base, "AZ_BATCH_NODE_SHARED_DIR": str(tmp_path / "none")}
    assert "not writable: inputs downloaded per job" in run_script(script, missing)
    output = run_script(script, base)
    assert "PROBE ok node-cache: no AZ_BATCH_NODE_SHARED_DIR" in output
    assert [line.what for line in judge(target, "Completed", "", output).failed] == ["storage"]
