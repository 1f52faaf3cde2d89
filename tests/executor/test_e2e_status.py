"""`snakemake --executor aml` when jobs end other than by completing: preemption's restart,
a cancel from outside, a submitter killed with -9 and started again."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from aml_bridge.model.specs.common import run_tag_key
from tests.executor.test_e2e_small import run_id_of
from tests.fixtures.workflow import snakemake
from tests.local_service.helpers import wait_for

JOB_ROUTE = "/jobs/{name}"

SNAKEFILE = """
rule all:
    input:
        expand("results/second/{s}.txt", s=["a", "b"]),


rule first:
    output:
        "results/first/{s}.txt",
    shell:
        # appends: a restart that saw the first run's output would write the line twice
        "echo hello {wildcards.s} >> {output}; sleep 8"


rule second:
    input:
        "results/first/{s}.txt",
    output:
        "results/second/{s}.txt",
    shell:
        "tr a-z A-Z < {input} > {output}"


rule long:
    output:
        "results/long.txt",
    shell:
        "sleep 300; touch {output}"
"""


@pytest.fixture
def workflow(tmp_path: Path) -> Path:
    wf = tmp_path / "wf"
    wf.mkdir()
    (wf / "Snakefile").write_text(SNAKEFILE)
    return wf


def job_puts(service) -> int:
    return sum(
        1 for r in service.requests() if r["method"] == "PUT" and r["route"].endswith(JOB_ROUTE)
    )


def start(wf: Path, args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        ["snakemake", *args], cwd=wf, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )


def wait_until(condition, proc: subprocess.Popen, what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what}: timed out"
        assert proc.poll() is None, f"{what}: snakemake ended\n{proc.stderr.read()}"
        time.sleep(0.3)


def read_blob(aml_run, path: str) -> str:
    blob = f"{aml_run.path}/{path}"
    return aml_run.service.container().download_blob(blob).readall().decode()


def test_preempted_job_restarts_and_the_run_completes_with_the_same_outputs(aml_run, workflow):
    # the bridge's log line about the restart: test_status_semantics (timing-free there)
    aml_run.service.set_faults(preempt_pattern=r"^first-", preempt_after=1)
    proc = snakemake(workflow, *aml_run.args("results/first/a.txt"))
    jobs = aml_run.run_jobs(run_tag_key(run_id_of(proc.stderr)))
    assert [(j.display_name, j.status) for j in jobs] == [("first[s=a]", "Completed")]
    assert job_puts(aml_run.service) == 1  # restarted by Azure ML, not resubmitted
    assert read_blob(aml_run, "results/first/a.txt") == "hello a\n"
    log = f"ExperimentRun/dcid.{jobs[0].name}/user_logs/std_log.txt"
    text = aml_run.service.container("workspaceartifactstore").download_blob(log).readall()
    assert b"Job restarted after 1 preemption(s) of its node." in text


def test_job_canceled_outside_the_run_fails_and_is_not_resubmitted(aml_run, workflow):
    proc = start(workflow, aml_run.args("--retries", "2", "results/long.txt"))
    try:
        wait_until(lambda: job_puts(aml_run.service) == 1, proc, "submission")
        ml = aml_run.service.ml_client()
        (name,) = [j.name for j in ml.jobs.list() if j.name.startswith("long-")]
        wait_for(ml, name, {"Running"})
        ml.jobs.begin_cancel(name).result()  # someone cancels it in the Studio
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert f"aml: job {name} was canceled outside this run" in err
    assert "long was canceled outside this run" in err and "not resubmitted" in err
    assert job_puts(aml_run.service) == 1  # --retries 2, yet nothing sent again


def test_killed_run_restarted_submits_nothing_twice(aml_run, workflow):
    args = aml_run.args("--rerun-incomplete")
    proc = start(workflow, args)
    try:
        wait_until(lambda: job_puts(aml_run.service) == 2, proc, "first jobs submitted")
        run_id = (workflow / ".snakemake/aml/run_id").read_text().strip()
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    snakemake(workflow, "--unlock")  # Snakemake's own lock outlives a kill -9
    again = snakemake(workflow, *args)
    assert f"resuming unfinished run {run_id}" in again.stderr
    jobs = aml_run.run_jobs(run_tag_key(run_id))
    assert sorted(j.display_name for j in jobs) == [
        "first[s=a]", "first[s=b]", "second[s=a]", "second[s=b]"
    ]  # fmt: skip
    assert job_puts(aml_run.service) == 4  # one creation per job over both runs
    assert read_blob(aml_run, "results/second/b.txt") == "HELLO B\n"
    assert not (workflow / ".snakemake/aml/run_id").exists()  # ended cleanly this time
