"""What each way a job ends means, against the local service: time limit, someone else's
cancel, NotResponding, preemption's restart, a refused batch lookup and a job PUT whose answer
was lost. Status rounds are the poller's (`StatusPoller.poll`), their meaning `JobEnds`'s: no
executor, no workflow."""

from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from aml_bridge.executor.job_ends import JobEnds, Verdict
from aml_bridge.gateway.client import AmlClient, JobState
from aml_bridge.gateway.polling import StatusPoller
from aml_bridge.gateway.status import Outcome
from aml_bridge.model.specs.command import build_spec
from aml_bridge.model.specs.common import JobFacts
from tests.executor.test_status_round import poller_of, status_client, status_run
from tests.local_service.helpers import wait_for

JOB_ROUTE = "/jobs/{name}"


@dataclass
class Rounds:
    client: AmlClient
    poller: StatusPoller
    ends: JobEnds
    submit: object  # (facts, timeout_s=None) -> job name

    def ended(self, name: str, facts: JobFacts) -> Verdict:
        """One round over the job, which must have ended without success: the verdict on it."""
        state, result = self.poller.poll([name]).ended[name]
        assert result is not Outcome.SUCCEEDED
        return self.ends.verdict(name, facts, state, result)


@pytest.fixture
def rounds(aml_run):
    service = aml_run.service
    run = status_run(service, "semantics")
    client = status_client(service)
    pool = ThreadPoolExecutor(2)

    def submit(job: JobFacts, timeout_s: int | None = None) -> str:
        spec = build_spec(run, job)
        if timeout_s:
            spec = dataclasses.replace(spec, timeout_s=timeout_s)

        def put() -> JobState:
            client.ensure_environment(spec.environment)
            return client.submit(spec.to_yaml(inline_environment=False))

        return pool.submit(put).result().name

    ends = JobEnds(client, logging.getLogger(__name__))
    yield Rounds(client, poller_of(client, run), ends, submit)
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
    facts = job("slowrule", "sleep 300", runtime=1)
    name = rounds.submit(facts, timeout_s=1)
    assert wait_for(rounds.client.ml, name).status == "Canceled"
    verdict = rounds.ended(name, facts)
    assert "exceeded its time limit and was canceled by Azure ML" in verdict.reason
    assert "rule slowrule has runtime=1" in verdict.reason
    assert "raise the rule's runtime" in verdict.reason
    assert verdict.never_again is None  # a timeout is a failed attempt: --retries may resubmit


def test_job_canceled_by_someone_else_is_not_resubmitted(aml_run, rounds):
    facts = job("victim", "sleep 300")
    name = rounds.submit(facts)
    ml = rounds.client.ml
    wait_for(ml, name, {"Running"})
    ml.jobs.begin_cancel(name).result()  # as from the Studio or the CLI
    verdict = rounds.ended(name, facts)
    assert "was canceled outside this run" in verdict.reason
    assert "victim[i=1] was canceled outside this run" in verdict.never_again
    assert "not resubmitted" in verdict.never_again


def test_not_responding_job_is_canceled_before_its_attempt_fails(aml_run, rounds):
    aml_run.service.set_faults(not_responding_pattern="^mute-", not_responding_for=3600)
    facts = job("mute", "sleep 300")
    name = rounds.submit(facts)
    ml = rounds.client.ml
    wait_for(ml, name, {"NotResponding"})
    verdict = rounds.ended(name, facts)
    assert "canceled so that it cannot resume alongside its retry" in verdict.reason
    # canceled, not left to resume and race the retry
    assert wait_for(ml, name).status == "Canceled"


def test_preempted_job_restarts_and_the_round_only_says_so(aml_run, rounds):
    name = rounds.submit(job("lowpri", "sleep 300"))
    ml = rounds.client.ml
    wait_for(ml, name, {"Running"})
    assert rounds.poller.poll([name]).ended == {}
    aml_run.service.set_faults(requeue_delay=3600)  # keep it Queued for this test
    assert aml_run.service.preempt(name) == [name]
    wait_for(ml, name, {"Queued"})
    found = rounds.poller.poll([name])
    assert found.ended == {}  # still the same, active job
    assert [(r.name, r.was, r.now) for r in found.restarts] == [(name, "Running", "Queued")]
    ml.jobs.begin_cancel(name).result()


def test_refused_batch_lookup_falls_back_to_one_get_per_job(aml_run, rounds, caplog):
    done = rounds.submit(job("quick", "true"))
    wait_for(rounds.client.ml, done)
    aml_run.service.set_faults(refuse_batch_status=403)
    aml_run.service.clear_requests()
    with caplog.at_level(logging.WARNING):
        found = rounds.poller.poll([done])
        assert rounds.poller.poll([]).ended == {}
    assert [result for _, result in found.ended.values()] == [Outcome.SUCCEEDED]
    routes = [
        (r["method"], r["route"].rsplit("/", 2)[-1], r["status"])
        for r in aml_run.service.requests()
    ]
    assert ("POST", "runIds", 403) in routes and ("GET", "{name}", 200) in routes
    assert caplog.text.count("batch status lookup was refused") == 1


def test_job_put_retried_after_a_dropped_connection_adopts_the_job(aml_run, rounds):
    aml_run.service.set_faults(drop_response_pattern="^dropped-")
    aml_run.service.clear_requests()
    name = rounds.submit(job("dropped", "true"))
    assert puts(aml_run.service) == [0]  # the lost answer; then a GET found the job
    assert wait_for(rounds.client.ml, name).status == "Completed"
