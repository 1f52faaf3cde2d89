"""`aml-genomics setup` and `check` against the local service, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.workflow import copy_workflow

SETTINGS = ("SNAKEMAKE_AML_", "SNAKEMAKE_STORAGE_AZUREML_")


def cli(
    service, wf: Path, demo: Path | None, *args: str, extra_env=None, config=()
) -> subprocess.CompletedProcess:
    """aml-genomics in `wf` with the demo data's sheet and reference (or `config` items)."""
    env = tool_env(service, extra_env)
    if demo is not None:
        config = (f"samples={demo}/samples.tsv", f"reference={demo}/reference.fa")
    return subprocess.run(
        [sys.executable, "-m", "aml_bridge.admin.cli", *args, "--profile", "workflow_profiles/aml",
         "--config", *config],
        cwd=wf, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def tool_env(service, extra_env=None) -> dict[str, str]:
    """A user's environment for the service: its workspace as SNAKEMAKE_AML_*, nothing else
    of the executor's or the storage plugin's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS)}
    return (
        env
        | service.executor_environment()
        | {"PYTHONPATH": str(Path(__file__).resolve().parents[2]), **(extra_env or {})}
    )


def as_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def wf(tmp_path: Path) -> Path:
    return copy_workflow(tmp_path / "wf")


def test_setup_then_check_all_pass_and_setup_again_changes_nothing(
    fresh_aml_service, wf, demo_data
):
    service = fresh_aml_service()
    dry = cli(service, wf, demo_data, "setup", "--dry-run")
    assert dry.returncode == 0 and "would create  environment env-bwa:" in dry.stdout
    assert "dry run: nothing changed" in dry.stdout
    first = as_json(cli(service, wf, demo_data, "setup", "--json"))
    assert first["changed"]
    made = {s["name"].split(":")[0] for s in first["steps"] if s["action"] == "create"}
    assert {"env-bwa", "env-fastqc", "env-samtools", "env-multiqc", "bwa_mem", "multiqc"} <= made
    assert "az role assignment create --assignee" in first["role_assignments"][0]
    again = cli(service, wf, demo_data, "setup")
    assert again.returncode == 0, again.stderr
    assert "Nothing to change: the workspace has everything." in again.stdout
    check = cli(service, wf, demo_data, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "✗" not in check.stdout.replace("0 ✗", "")
    probes = [line for line in check.stdout.splitlines() if "✓ probe env-" in line]
    assert any("env-bwa-parallel:" in line and "bwa 0.7" in line for line in probes)
    assert all("storage " in line and "snakemake 9." in line for line in probes)
    assert "node started after" in check.stdout
    # a change in a conda file: a new environment version and new component versions; the
    # old ones remain registered
    old = {s["name"] for s in first["steps"] if s["kind"] != "cluster"}
    bwa = wf / "workflow" / "envs" / "bwa.yaml"
    bwa.write_text(bwa.read_text() + "  - bioconda::htslib=1.20\n")
    changed = as_json(cli(service, wf, demo_data, "setup", "--json"))
    created = {s["name"] for s in changed["steps"] if s["action"] == "create"}
    wanted = {"env-bwa", "env-bwa-parallel", "bwa_index", "bwa_mem"}  # both flavours
    assert {n.split(":")[0] for n in created} == wanted
    assert not created & old
    ml = service.ml_client()
    for name in old | created:
        kind, version = name.split(":")
        ops = ml.environments if kind.startswith("env-") else ml.components
        assert ops.get(kind, version=version).version == version


def test_check_names_each_problem_with_its_fix(fresh_aml_service, wf, demo_data):
    service = fresh_aml_service(cluster_identities=["genomics-cluster=none"])
    closed = {"SNAKEMAKE_STORAGE_AZUREML_DATASTORES": "workspaceblobstore=https://127.0.0.1:9/c1"}
    proc = cli(service, wf, demo_data, "check", "--json", extra_env=closed)
    assert proc.returncode == 1
    rows = {r["check"]: r for r in as_json(proc)["checks"]}
    assert rows["workspace local-ws"]["ok"]
    identity = rows["cluster genomics-cluster identity"]
    assert not identity["ok"] and "--identity-type SystemAssigned" in identity["fix"]
    store = rows["datastore workspaceblobstore from here"]
    assert not store["ok"] and "Storage Blob Data Contributor" in store["fix"]
    missing = [r for name, r in rows.items() if name.startswith("environment env-bwa:")]
    assert missing and not missing[0]["ok"] and "aml-genomics setup" in missing[0]["fix"]
    assert not rows["probe jobs"]["ok"] and "not run" in rows["probe jobs"]["detail"]
    # readable form: the same, with a ✗ and a fix line each
    text = cli(service, wf, demo_data, "check", extra_env=closed).stdout
    assert "✗ cluster genomics-cluster identity" in text and "fix: az ml compute update" in text


def test_usage_errors_exit_2(aml_service, wf, demo_data):
    proc = cli(aml_service, wf, demo_data, "check", "--aml-subscription", "not-a-guid",
               extra_env={"SNAKEMAKE_AML_ENDPOINT": ""})  # fmt: skip
    assert proc.returncode == 2 and "is not a subscription id" in proc.stderr
    bad = cli(aml_service, wf, demo_data, "setup", "--cluster", "genomics-cluster")
    assert bad.returncode == 2 and "--cluster 'genomics-cluster' is not NAME=VM_SIZE" in bad.stderr
    for command in ("setup", "check", "export"):
        helped = subprocess.run([sys.executable, "-m", "aml_bridge.admin.cli", command, "--help"],
                                capture_output=True, text=True)  # fmt: skip
        assert helped.returncode == 0 and "--aml-workspace" in helped.stdout


def test_console_script_is_declared():
    import tomllib

    root = Path(__file__).resolve().parents[2]
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, func = scripts["aml-genomics"].partition(":")
    assert callable(getattr(__import__(module, fromlist=[func]), func))


def test_check_probes_each_environment_and_names_one_that_cannot_be_built(
    fresh_aml_service, wf, demo_data
):
    """One probe per environment version the rules use; a conda file whose pip section cannot
    be installed is a ✗ naming the environment, its rules and Azure ML's build error, with
    the fix; `setup --build` started the same probes."""
    mosdepth = wf / "workflow" / "envs" / "mosdepth.yaml"
    mosdepth.write_text(
        mosdepth.read_text() + "  - pip:\n      - aml-genomics-no-such-package==1.0\n"
    )
    service = fresh_aml_service()
    setup = as_json(cli(service, wf, demo_data, "setup", "--build", "--json"))
    assert setup["builds"] and all(b["job"] for b in setup["builds"])
    proc = cli(service, wf, demo_data, "check", "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    probes = {r["check"]: r for r in as_json(proc)["checks"] if r["check"].startswith("probe ")}
    assert {b["check"] for b in setup["builds"]} == set(probes)
    envs = {name.split()[1].split(":")[0] for name in probes}
    assert {"env-bwa", "env-bwa-parallel", "env-fastqc", "env-fastqc-parallel"} <= envs
    broken = [r for name, r in probes.items() if name.startswith("probe env-mosdepth")]
    assert broken and not any(r["ok"] for r in broken)
    assert all("aml-genomics-no-such-package" in r["detail"] for r in broken)
    assert len(broken) == 2  # the command job's and the parallel flavour
    assert all("envs/mosdepth.yaml" in r["fix"] and "mosdepth" in r["fix"] for r in broken)
    assert all(r["ok"] for name, r in probes.items() if "env-mosdepth" not in name)


def test_check_shows_a_cluster_beyond_the_free_vcpu_quota_with_the_fix(
    fresh_aml_service, wf, demo_data
):
    service = fresh_aml_service()  # genomics-cluster: low priority, 4 × Standard_D8s_v3
    fine = as_json(cli(service, wf, demo_data, "check", "--no-probe", "--json"))
    quota = {r["check"]: r for r in fine["checks"]}["cluster genomics-cluster quota"]
    assert quota["ok"] and "32 vCPUs at max nodes, 1000 free" in quota["detail"]
    service.set_quota("LowPriority", "total", 20)
    proc = cli(service, wf, demo_data, "check", "--no-probe")
    assert proc.returncode == 1
    assert "✗ cluster genomics-cluster quota" in proc.stdout
    assert "Total Cluster LowPriority Regional vCPUs: 32 vCPUs at max nodes, 20 free" in proc.stdout
    assert "genomics-cluster fits 2 of its 4 nodes" in proc.stdout
    assert "request a quota increase" in proc.stdout and "--max-instances" in proc.stdout
