"""A job Azure ML refuses for vCPU quota waits and is sent again; once the quota is raised the
run completes. Local service + Azurite, the real snakemake CLI."""

from __future__ import annotations

from pathlib import Path

from tests.executor.test_e2e_status import read_blob, start, wait_until

SNAKEFILE = """
rule one:
    output:
        "results/one.txt",
    shell:
        "echo one > {output}"
"""


def test_job_refused_for_quota_is_sent_again_and_completes_once_the_quota_allows(
    aml_run, tmp_path: Path
):
    wf = tmp_path / "wf"
    wf.mkdir()
    (wf / "Snakefile").write_text(SNAKEFILE)
    service = aml_run.service
    service.set_quota("LowPriority", "total", 4)  # genomics-cluster's node has 8 vCPUs
    proc = start(wf, aml_run.args("--aml-quota-wait", "2", "results/one.txt"))
    try:
        ml = service.ml_client()

        def refused_again() -> bool:
            return any(j.name.endswith("-q1") and j.status == "Failed" for j in ml.jobs.list())

        wait_until(refused_again, proc, "the job refused, sent again and refused again")
        service.set_quota("LowPriority", "total", 1000)
        _, err = proc.communicate(timeout=300)
    finally:
        service.set_quota("LowPriority", "total", 1000)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "was refused for vCPU quota: Job submission to AzureML Compute" in err
    assert "JobNodeCountExceedsCoreQuota" in err and "request a quota increase" in err
    assert "-q1 in " in err and "-q2 in " in err  # each refusal said, then sent again
    assert read_blob(aml_run, "results/one.txt") == "one\n"
