"""`snakemake --executor aml` end to end on a small workflow: local service + Azurite."""

import os
import re
import signal
import time

from aml_bridge.model.specs.common import RUN_TAG, run_tag_key
from tests.executor.conftest import AmlRun
from tests.fixtures.workflow import snakemake, start_snakemake

RUNS_BY_IDS = "/experiments/{experimentName}/runs/runIds"


def routes(service, method: str, suffix: str) -> int:
    return sum(
        1 for r in service.requests() if r["method"] == method and r["route"].endswith(suffix)
    )


def run_id_of(output: str) -> str:
    return output.split("aml: run ", 1)[1].split(",", 1)[0]


def test_small_workflow_runs_as_azure_ml_jobs(aml_run, small_workflow):
    proc = snakemake(small_workflow, *aml_run.args())
    names = aml_run.blob_names()
    assert {n.rsplit("/", 2)[-2] + "/" + n.rsplit("/", 1)[-1] for n in names} >= {
        "upper/a.txt",
        "upper/b.txt",
    }
    run_id = run_id_of(proc.stderr)
    jobs = aml_run.run_jobs(run_tag_key(run_id))
    assert len(jobs) == 4 and {j.status for j in jobs} == {"Completed"}
    assert {j.display_name for j in jobs} == {"make[s=a]", "make[s=b]", "upper[s=a]", "upper[s=b]"}
    assert {j.tags[RUN_TAG] for j in jobs} == {run_id}
    # status: batch lookups by run id for all jobs, never a GET per job
    assert routes(aml_run.service, "GET", "/jobs/{name}") == 0
    assert routes(aml_run.service, "POST", RUNS_BY_IDS) >= 1
    # no secret in job specs and command lines (none exists: the client signs in by token)
    secret = os.environ["MSI_SECRET"]
    for job in jobs:
        assert secret not in str(job.environment_variables) and secret not in job.command


def test_jobs_use_their_cluster_identity_and_hold_no_storage_secret(aml_run, small_workflow):
    snakemake(small_workflow, *aml_run.args("results/env_names.txt"))
    blob = f"{aml_run.path}/results/env_names.txt"
    names = set(aml_run.service.container().download_blob(blob).readall().decode().split())
    assert {"MSI_ENDPOINT", "MSI_SECRET"} <= names  # the node's managed-identity endpoint
    assert not [n for n in names if re.search("KEY|CONNECTION_STRING|SAS", n)]


def test_cluster_without_identity_fails_the_job_naming_the_prerequisite(
    fresh_aml_service, aml_azurite, small_workflow, monkeypatch
):
    service = fresh_aml_service(cluster_identities=["genomics-cluster=none"])
    run = AmlRun(service, "azureml://datastores/workspaceblobstore/paths/noid", "")
    run.account_url = aml_azurite.blob_endpoint
    for key, value in run.env().items():
        monkeypatch.setenv(key, value)
    proc = snakemake(small_workflow, *run.args("results/raw/a.txt"), check=False)
    assert proc.returncode != 0
    assert "managed identity" in proc.stderr and "Storage Blob Data Contributor" in proc.stderr


def test_real_failure_ends_the_run_with_error_and_log_excerpt(aml_run, small_workflow):
    proc = snakemake(small_workflow, *aml_run.args("results/bad.txt"), check=False)
    assert proc.returncode != 0
    out = proc.stderr
    assert "Failed: Execution failed" in out and "Studio: https://" in out
    assert "ERROR: reads_R1.fastq.gz is truncated" in out  # the log excerpt
    log = small_workflow / ".snakemake/aml_logs/truncated/no_wildcards/1.log"
    assert "ERROR: reads_R1.fastq.gz is truncated" in log.read_text()
    assert str(log.relative_to(small_workflow)) in out  # shown as auxiliary log


def test_injected_failure_per_rule_is_retried(aml_run, small_workflow):
    aml_run.service.set_faults(fail_pattern=r"^(make|upper)-.*-1$")
    proc = snakemake(small_workflow, *aml_run.args("--retries", "1"))
    jobs = aml_run.run_jobs(run_tag_key(run_id_of(proc.stderr)))
    by_attempt = {(j.tags["snakemake_attempt"], j.status) for j in jobs}
    assert by_attempt == {("1", "Failed"), ("2", "Completed")}
    assert len(jobs) == 8


def test_throttling_storm_slows_but_does_not_fail(aml_run, small_workflow):
    aml_run.service.set_faults(throttle_fraction=0.4, retry_after=0.2, seed=7)
    snakemake(small_workflow, *aml_run.args())
    statuses = [r["status"] for r in aml_run.service.requests()]
    assert statuses.count(429) >= 3
    assert {"upper/a.txt", "upper/b.txt"} <= {
        "/".join(n.split("/")[-2:]) for n in aml_run.blob_names()
    }


def test_sigint_cancels_every_active_job_of_the_run(aml_run, small_workflow):
    targets = [f"results/slow/{i}.txt" for i in range(6)]
    proc = start_snakemake(small_workflow, *aml_run.args("--jobs", "6", *targets))
    try:
        deadline = time.monotonic() + 120
        while routes(aml_run.service, "PUT", "/jobs/{name}") < 6:
            assert time.monotonic() < deadline, "jobs were not submitted"
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.5)
        time.sleep(2)  # let the status thread see them
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    jobs = aml_run.run_jobs(run_tag_key(run_id_of(err)))
    assert len(jobs) == 6
    active = [j.name for j in jobs if j.status not in ("Canceled", "CancelRequested")]
    assert active == []


def test_spec_dir_writes_loadable_specs_and_submits_nothing(aml_run, small_workflow, tmp_path):
    from azure.ai.ml import load_job

    specs = tmp_path / "specs"
    args = aml_run.args("--aml-spec-dir", str(specs), "--keep-going", "--retries", "2")
    proc = snakemake(small_workflow, *args, check=False)
    assert proc.returncode != 0 and "job not submitted (--aml-spec-dir)" in proc.stderr
    assert "spec of make[s=a] already written to" in proc.stderr  # retries write nothing more
    written = sorted(specs.glob("*.yaml"))
    assert [p.name.split("-")[0] for p in written] == ["make", "make"]
    for path in written:
        job = load_job(path)
        assert job.display_name in ("make[s=a]", "make[s=b]") and "snakemake" in job.command
    assert routes(aml_run.service, "PUT", "/jobs/{name}") == 0


def test_restarted_run_with_same_run_id_adopts_its_jobs(aml_run, small_workflow):
    args = aml_run.args("--aml-run-id", "restart1", "results/raw/a.txt")
    snakemake(small_workflow, *args)
    aml_run.service.clear_requests()
    # the restart wants the same job again: it is found by its name, not submitted twice
    snakemake(small_workflow, *args, "--forcerun", "make")
    assert routes(aml_run.service, "PUT", "/jobs/{name}") == 0
    assert routes(aml_run.service, "GET", "/jobs/{name}") == 1
    assert len(aml_run.run_jobs(run_tag_key("restart1"))) == 1
