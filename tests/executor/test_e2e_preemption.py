"""A group step preempted again and again on the low-priority cluster finishes on a dedicated
cluster of the same VM size (--aml-max-preemptions). Local service + Azurite, the real CLI."""

from __future__ import annotations

from pathlib import Path

from aml_bridge.model.specs.common import run_tag_key
from tests.executor.test_e2e_small import run_id_of
from tests.fixtures.workflow import snakemake
from tests.local_service.test_workspace_assets import aml_cluster

DEDICATED = "genomics-dedicated"  # beside the service's low-priority genomics-cluster
SNAKEFILE = """
rule make:
    output:
        "results/raw/{s}.txt",
    group:
        "make"
    shell:
        "sleep 2; echo hello {wildcards.s} > {output}"
"""


def test_group_step_preempted_past_the_limit_finishes_on_the_dedicated_cluster(
    aml_run, tmp_path: Path, monkeypatch
):
    ml = aml_run.service.ml_client()
    low = ml.compute.get("genomics-cluster")
    assert low.tier == "low_priority"
    ml.compute.begin_create_or_update(aml_cluster(DEDICATED, low.size, 2)).result()
    monkeypatch.delenv("AZUREML_CURRENT_CLOUD")  # MLClient's, for this process only
    wf = tmp_path / "wf"
    wf.mkdir()
    (wf / "Snakefile").write_text(SNAKEFILE)
    # Each run of the step is preempted after 6 s running and waits 9 s queued: longer than
    # the status rounds (1 s, growing to 8 s while nothing ends) need to see both states.
    aml_run.service.set_faults(
        preempt_pattern="^group", preempt_after=6, requeue_delay=9, preempt_times=20
    )
    targets = [f"results/raw/{s}.txt" for s in ("a", "b")]
    proc = snakemake(
        wf,
        *aml_run.args(
            "--aml-clusters", "genomics-cluster", DEDICATED, "--aml-max-preemptions", "1",
            *targets, "--group-components", "make=2",
        ),
    )  # fmt: skip
    jobs = {j.name: j for j in aml_run.run_jobs(run_tag_key(run_id_of(proc.stderr)))}
    (moved,) = [j for j in jobs.values() if j.name.endswith("-dedicated")]
    first = jobs[moved.name.removesuffix("-dedicated")]
    assert first.status == "Canceled" and moved.status == "Completed"
    (step,) = aml_run.service.ml_client().jobs.list(parent_job_name=moved.name)
    assert step.status == "Completed"
    assert aml_run.service.stats()["clusters"][DEDICATED]["peak_nodes_in_use"] >= 1
    assert (
        f"(job {first.name}) was preempted 2 times on low-priority cluster genomics-cluster: "
        f"canceled, and sent again as job {moved.name} to dedicated cluster {DEDICATED}"
    ) in proc.stderr
    for target in targets:
        blob = f"{aml_run.path}/{target}"
        text = aml_run.service.container().download_blob(blob).readall().decode()
        assert text == f"hello {target[-5]}\n"
