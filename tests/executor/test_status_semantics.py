"""What each way a job ends means to the executor, against the local service: time limit,
someone else's cancel, NotResponding, preemption's restart, a refused batch lookup and a job
PUT whose answer was lost. Status rounds are driven directly (`check_active_jobs`)."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version

import pytest
from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo

from aml_bridge.client import JobState
from aml_bridge.environments import remote_requirements
from aml_bridge.settings import DEFAULT_BASE_IMAGE
from aml_bridge.specs.command import build_spec
from aml_bridge.specs.common import JobFacts, RunContext
from tests.executor.test_status_round import Reports, status_executor, status_round
from tests.local_service.helpers import wait_for

JOB_ROUTE = "/jobs/{name}"


@pytest.fixture
def rounds(aml_run, tmp_path, monkeypatch):
    """(executor, reports, submit(facts, timeout_s=None) -> info) on the executor tests' service."""
    monkeypatch.chdir(tmp_path)  # failed jobs' logs go under .snakemake/
    service = aml_run.service
    run = RunContext(
        run_id=uuid.uuid4().hex[:8],
        experiment=f"semantics-{uuid.uuid4().hex[:8]}",
        compute=service.compute,
        base_image=DEFAULT_BASE_IMAGE,
        pip=remote_requirements(version("snakemake"), []),
    )
    reports = Reports()
    executor = status_executor(service, run, reports)
    pool = ThreadPoolExecutor(2)

    def submit(job: JobFacts, timeout_s: int | None = None) -> SubmittedJobInfo:
        spec = build_spec(run, job)
        if timeout_s:
            spec = dataclasses.replace(spec, timeout_s=timeout_s)

        def put() -> JobState:
            executor.client.ensure_environment(spec.environment)
            return executor.client.submit(spec.to_yaml(inline_environment=False))

        info = SubmittedJobInfo(None, spec.name, {"facts": job, "submit": pool.submit(put)})
        info.aux["submit"].result()
        return info

    yield executor, reports, submit
    pool.shutdown()


def job(rule: str, command: str, **resources) -> JobFacts:
    return JobFacts(rule, {"i": "1"}, 1, 1, resources, (f"out/{rule}",), command)


def puts(service) -> list[int]:
    return [
        r["status"]
        for r in service.requests()
        if r["method"] == "PUT" and r["route"].endswith(JOB_ROUTE)
    ]


def test_time_limit_is_reported_as_a_timeout_naming_the_runtime(aml_run, rounds):
    executor, reports, submit = rounds
    info = submit(job("slowrule", "sleep 300", runtime=1), timeout_s=1)
    assert wait_for(executor.client.ml, info.external_jobid).status == "Canceled"
    assert status_round(executor, [info]) == []
    message = reports.failed[info.external_jobid]
    assert "exceeded its time limit and was canceled by Azure ML" in message
    assert "rule slowrule has runtime=1" in message and "raise the rule's runtime" in message
    assert not executor._refused  # a timeout is a failed attempt: --retries may resubmit


def test_job_canceled_by_someone_else_is_not_resubmitted(aml_run, rounds):
    executor, reports, submit = rounds
    facts = job("victim", "sleep 300")
    info = submit(facts)
    ml = executor.client.ml
    wait_for(ml, info.external_jobid, {"Running"})
    ml.jobs.begin_cancel(info.external_jobid).result()  # as from the Studio or the CLI
    assert status_round(executor, [info]) == []
    assert "was canceled outside this run" in reports.failed[info.external_jobid]
    refusal = executor._refused[(facts.rule, facts.outputs)]
    assert "victim[i=1] was canceled outside this run" in refusal and "not resubmitted" in refusal


def test_not_responding_job_is_canceled_before_its_attempt_fails(aml_run, rounds):
    executor, reports, submit = rounds
    aml_run.service.set_faults(not_responding_pattern="^mute-", not_responding_for=3600)
    info = submit(job("mute", "sleep 300"))
    ml = executor.client.ml
    wait_for(ml, info.external_jobid, {"NotResponding"})
    assert status_round(executor, [info]) == []
    assert (
        "canceled so that it cannot resume alongside its retry"
        in (reports.failed[info.external_jobid])
    )
    # canceled, not left to resume and race the retry
    assert wait_for(ml, info.external_jobid).status == "Canceled"


def test_preempted_job_restarts_and_the_bridge_only_says_so(aml_run, rounds, caplog):
    executor, reports, submit = rounds
    info = submit(job("lowpri", "sleep 300"))
    name, ml = info.external_jobid, executor.client.ml
    wait_for(ml, name, {"Running"})
    assert status_round(executor, [info]) == [name]
    aml_run.service.set_faults(requeue_delay=3600)  # keep it Queued for this test
    assert aml_run.service.preempt(name) == [name]
    wait_for(ml, name, {"Queued"})
    with caplog.at_level(logging.WARNING):
        assert status_round(executor, [info]) == [name]  # still the same, active job
    assert f"job {name} (lowpri[i=1]) went from Running back to Queued" in caplog.text
    assert reports.failed == {} and reports.succeeded == []
    ml.jobs.begin_cancel(name).result()


def test_refused_batch_lookup_falls_back_to_one_get_per_job(aml_run, rounds, caplog):
    executor, reports, submit = rounds
    done = submit(job("quick", "true"))
    wait_for(executor.client.ml, done.external_jobid)
    aml_run.service.set_faults(refuse_batch_status=403)
    aml_run.service.clear_requests()
    with caplog.at_level(logging.WARNING):
        assert status_round(executor, [done]) == []
        assert status_round(executor, []) == []
    assert reports.succeeded == [done.external_jobid]
    routes = [
        (r["method"], r["route"].rsplit("/", 2)[-1], r["status"])
        for r in aml_run.service.requests()
    ]
    assert ("POST", "runIds", 403) in routes and ("GET", "{name}", 200) in routes
    assert caplog.text.count("batch status lookup was refused") == 1


def test_job_put_retried_after_a_dropped_connection_adopts_the_job(aml_run, rounds):
    executor, reports, submit = rounds
    aml_run.service.set_faults(drop_response_pattern="^dropped-")
    aml_run.service.clear_requests()
    info = submit(job("dropped", "true"))
    assert info.aux["submit"].result().name == info.external_jobid
    assert puts(aml_run.service) == [0]  # the lost answer; then a GET found the job
    assert wait_for(executor.client.ml, info.external_jobid).status == "Completed"
