"""Snakemake groups on Azure ML: a group of independent jobs is one pipeline job with one
parallel step (a member per item); a group whose members depend on each other stays one
command job. Local service + Azurite, the real snakemake CLI."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from aml_bridge.model.specs.common import run_tag_key
from tests.executor.conftest import STEP_DEFAULT_TIMEOUT_S
from tests.executor.test_e2e_small import routes, run_id_of
from tests.fixtures.workflow import snakemake, start_snakemake

# `make` fails while its sample's try count (a file under config["marks"]) is below
# config["fail_<sample>"] (default 0: never); `chain_a` → `chain_b` depend on each other.
GROUPS_SNAKEFILE = """
def fail_below(wildcards):
    return config.get(f"fail_{wildcards.s}", 0)


rule make:
    output:
        "results/raw/{s}.txt",
    group:
        "make"
    params:
        marks=config["marks"],
        fail=fail_below,
    shell:
        "echo x >> {params.marks}/{wildcards.s}; "
        "tries=$(wc -l < {params.marks}/{wildcards.s}); "
        "if [ $tries -le {params.fail} ]; then echo ERROR: sample {wildcards.s} broke >&2; "
        "exit 3; fi; "
        "echo hello {wildcards.s} > {output}"


rule slow:
    output:
        "results/slow/{s}.txt",
    group:
        "slow"
    shell:
        "sleep 300; touch {output}"


rule long:
    output:
        "results/long.txt",
    group:
        "long"
    resources:
        runtime=3,
    shell:
        "sleep LONG_SECONDS; touch {output}"


rule chain_a:
    output:
        "results/chain/a.txt",
    group:
        "chain"
    shell:
        "echo a > {output}"


rule chain_b:
    input:
        "results/chain/a.txt",
    output:
        "results/chain/b.txt",
    group:
        "chain"
    shell:
        "cat {input} > {output}"
""".replace("LONG_SECONDS", str(STEP_DEFAULT_TIMEOUT_S + 3))

SAMPLES = ["a", "b", "c"]
PROFILE = Path(__file__).resolve().parents[2] / "workflow_profiles" / "aml"


@pytest.fixture
def groups_workflow(tmp_path: Path) -> Path:
    wf = tmp_path / "groups"
    (wf / "marks").mkdir(parents=True)
    (wf / "Snakefile").write_text(GROUPS_SNAKEFILE)
    return wf


def _args(aml_run, wf: Path, *extra: str, config: tuple[str, ...] = ()) -> list[str]:
    """Targets and flags first: --config and --group-components take every word after them."""
    return aml_run.args(
        *extra, "--config", f"marks={wf / 'marks'}", *config,
        "--group-components", "make=3", "slow=3",
    )  # fmt: skip


def _tries(wf: Path, sample: str) -> int:
    path = wf / "marks" / sample
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_independent_group_is_one_pipeline_job_and_dependent_group_one_command_job(
    aml_run, groups_workflow
):
    wf = groups_workflow
    targets = [f"results/raw/{s}.txt" for s in SAMPLES] + ["results/chain/b.txt"]
    proc = snakemake(wf, *_args(aml_run, wf, *targets))
    names = aml_run.blob_names()
    for target in targets:
        assert f"{aml_run.path}/{target}" in names
    jobs = aml_run.run_jobs(run_tag_key(run_id_of(proc.stderr)))
    kinds = sorted((j.type, j.display_name) for j in jobs)
    assert kinds == [("command", "group_chain"), ("pipeline", "make[3 jobs]")]
    pipeline = next(j for j in jobs if j.type == "pipeline")
    assert pipeline.tags["snakemake_group"] == "make" and pipeline.status == "Completed"
    (step,) = aml_run.service.ml_client().jobs.list(parent_job_name=pipeline.name)
    assert step.status == "Completed"
    assert [_tries(wf, s) for s in SAMPLES] == [1, 1, 1]
    for s in SAMPLES:  # progress per member
        assert f"make[3 jobs]: make[s={s}] done" in proc.stderr


def test_failed_member_fails_the_group_naming_it_and_retries_rerun_only_it(
    aml_run, groups_workflow
):
    """With the shipped profile (keep-incomplete) and --retries 2, c keeps failing: it runs 3
    times, once per attempt of the group (Snakemake owns the retries; the step retries nothing,
    or the two would multiply to 9 runs), and each retry runs c only; the next invocation plans
    c only, without --rerun-incomplete."""
    wf = groups_workflow
    targets = [f"results/raw/{s}.txt" for s in SAMPLES]
    profile = ("--profile", str(PROFILE), "--retries", "2", *targets)
    proc = snakemake(wf, *_args(aml_run, wf, *profile, config=("fail_c=99",)), check=False)
    err = proc.stderr
    assert proc.returncode != 0
    assert (_tries(wf, "a"), _tries(wf, "b"), _tries(wf, "c")) == (1, 1, 3)
    assert "Member make[s=c] (rule make, s=c) did not succeed" in err
    assert "ERROR: sample c broke" in err  # the member's log excerpt
    # the step runs every member to its end: a failing one stops none of the others
    assert "its step ended, not every member succeeded" in err and "Studio: https://" in err
    assert "2 of 3 member(s) succeeded and keep their outputs" in err
    for attempt in (1, 2, 3):  # each attempt's own log of c
        log = wf / f".snakemake/aml_logs/make/s=c/{attempt}.log"
        assert "ERROR: sample c broke" in log.read_text()
    jobs = aml_run.run_jobs(run_tag_key(run_id_of(err)))
    assert sorted(j.tags["snakemake_attempt"] for j in jobs) == ["1", "2", "3"]
    retry = next(j for j in jobs if j.tags["snakemake_attempt"] == "2")
    assert retry.display_name == "make[1 job]"
    members = f"{aml_run.path}/.snakemake/aml/groups/{retry.name}/members/"
    assert len([n for n in aml_run.blob_names() if n.startswith(members)]) == 1
    assert {f"{aml_run.path}/results/raw/{s}.txt" for s in "ab"} <= aml_run.blob_names()

    # the next invocation: c alone (a's and b's outputs kept, no job left marked incomplete)
    plan = snakemake(wf, *_args(aml_run, wf, "-n", *profile, config=("fail_c=4",)))
    planned = [line.strip() for line in plan.stdout.splitlines() if "wildcards:" in line]
    assert planned == ["wildcards: s=c"]


def test_member_running_longer_than_azure_mls_default_timeout_completes(aml_run, groups_workflow):
    """retry_settings.timeout defaults to 60 s per run() call on Azure ML (the service here:
    STEP_DEFAULT_TIMEOUT_S); the step gets the rule's runtime, so the member outlives it."""
    wf = groups_workflow
    proc = snakemake(wf, *_args(aml_run, wf, "results/long.txt"))
    assert "long[1 job]: long done" in proc.stderr
    assert f"{aml_run.path}/results/long.txt" in aml_run.blob_names()


def test_sigint_cancels_the_pipeline_its_step_and_workers(aml_run, groups_workflow):
    wf = groups_workflow
    targets = [f"results/slow/{s}.txt" for s in SAMPLES]
    proc = start_snakemake(wf, *_args(aml_run, wf, *targets))
    ml = aml_run.service.ml_client()
    try:
        deadline = time.monotonic() + 120
        while routes(aml_run.service, "PUT", "/jobs/{name}") < 1:
            assert time.monotonic() < deadline, "the pipeline was not submitted"
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.5)
        time.sleep(3)  # the step's workers start
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    (pipeline,) = aml_run.run_jobs(run_tag_key(run_id_of(err)))
    deadline = time.monotonic() + 30
    while ml.jobs.get(pipeline.name).status != "Canceled":
        assert time.monotonic() < deadline, "the pipeline was not canceled"
        time.sleep(0.5)
    (step,) = ml.jobs.list(parent_job_name=pipeline.name)
    assert step.status == "Canceled"
    leftover = subprocess.run(["pgrep", "-f", "results/slow/"], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""


def test_spec_dir_writes_a_loadable_pipeline(aml_run, groups_workflow, tmp_path):
    from azure.ai.ml import load_job

    wf, specs = groups_workflow, tmp_path / "specs"
    targets = [f"results/raw/{s}.txt" for s in SAMPLES]
    args = _args(aml_run, wf, "--aml-spec-dir", str(specs), *targets)
    proc = snakemake(wf, *args, check=False)
    assert proc.returncode != 0 and "job not submitted (--aml-spec-dir)" in proc.stderr
    (path,) = specs.glob("*.yaml")
    job = load_job(path)
    assert job.type == "pipeline" and job.display_name == "make[3 jobs]"
    step = job.jobs["members"]
    assert step.type == "parallel" and step.retry_settings.timeout != 60
    assert (specs / "member_code" / "member_entry.py").exists()
    assert routes(aml_run.service, "PUT", "/jobs/{name}") == 0
