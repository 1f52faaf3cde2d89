"""Each fault mode of the local service, and state surviving a restart."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest

from tests.local_service.helpers import (
    api_call,
    ensure_environment,
    run_error,
    shell_job,
    wait_for,
    workspace_path,
)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_jobs_matching_a_name_pattern_fail_when_set_at_start(fresh_aml_service):
    service = fresh_aml_service(faults={"fail_pattern": "^doomed-"})
    ml = service.ml_client()
    env = ensure_environment(ml)
    doomed, fine = _name("doomed"), _name("fine")
    for name in (doomed, fine):
        ml.jobs.create_or_update(shell_job(name, "true", env))
    assert wait_for(ml, doomed).status == "Failed"
    assert "Injected failure" in run_error(ml, doomed)["error"]["message"]
    assert wait_for(ml, fine).status == "Completed"


def test_jobs_with_a_tag_fail_when_set_at_runtime(aml_service):
    ml = aml_service.ml_client()
    env = ensure_environment(ml)
    aml_service.set_faults(fail_tag="chaos=yes")
    hit, spared = _name("hit"), _name("spared")
    ml.jobs.create_or_update(shell_job(hit, "true", env, tags={"chaos": "yes"}))
    ml.jobs.create_or_update(shell_job(spared, "true", env, tags={"chaos": "no"}))
    assert wait_for(ml, hit).status == "Failed"
    assert wait_for(ml, spared).status == "Completed"


def test_a_fraction_of_jobs_fails_repeatably(aml_service):
    ml = aml_service.ml_client()
    env = ensure_environment(ml)
    aml_service.set_faults(fail_fraction=0.5, seed=7)
    names = [_name("frac") for _ in range(10)]
    for name in names:
        ml.jobs.create_or_update(shell_job(name, "true", env))
    failed = sum(wait_for(ml, n).status == "Failed" for n in names)
    rng = random.Random(7)
    assert failed == sum(rng.random() < 0.5 for _ in names)  # one draw per job
    assert 0 < failed < len(names)


def _assert_preempted(ml, name: str) -> None:
    assert wait_for(ml, name).status == "Canceled"
    error = run_error(ml, name)["error"]
    assert error["code"] == "JobPreempted" and "preempted" in error["message"]


def test_preempt_running_job_on_request(aml_service):
    ml = aml_service.ml_client()
    name = _name("victim")
    ml.jobs.create_or_update(shell_job(name, "sleep 120", ensure_environment(ml)))
    wait_for(ml, name, {"Running"})
    assert aml_service.preempt(name) == [name]
    _assert_preempted(ml, name)


def test_jobs_matching_pattern_are_preempted_once_running(aml_service):
    ml = aml_service.ml_client()
    aml_service.set_faults(preempt_pattern="^lowpri-", preempt_after=0.2)
    name = _name("lowpri")
    ml.jobs.create_or_update(shell_job(name, "sleep 120", ensure_environment(ml)))
    _assert_preempted(ml, name)


@pytest.mark.parametrize("status", [429, 503])
def test_throttled_calls_are_answered_with_an_azure_error(aml_service, status):
    aml_service.set_faults(throttle_fraction=1.0, throttle_status=status, retry_after=7)
    code, headers, body = api_call(aml_service, "GET", workspace_path(aml_service) + "/jobs")
    assert code == status
    assert body["error"]["code"] in {"TooManyRequests", "ServiceUnavailable"}
    assert (headers.get("Retry-After") == "7") == (status == 429)


def test_sdk_rides_out_a_fraction_of_429s_and_the_log_counts_them(aml_service):
    ml = aml_service.ml_client()
    name = _name("throttled")
    ml.jobs.create_or_update(shell_job(name, "true", ensure_environment(ml)))
    aml_service.set_faults(throttle_fraction=0.3, retry_after=1, seed=3)
    aml_service.clear_requests()
    for _ in range(4):
        assert ml.jobs.get(name).name == name
    route = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/"
    route += "Microsoft.MachineLearningServices/workspaces/{workspaceName}/jobs/{name}"
    statuses = [r["status"] for r in aml_service.requests() if r["route"] == route]
    assert statuses.count(200) == 4 and statuses.count(429) >= 1
    assert set(statuses) == {200, 429}


def test_slow_queueing_keeps_jobs_queued_at_least_the_delay(aml_service):
    ml = aml_service.ml_client()
    aml_service.set_faults(queue_delay=1.5)
    name = _name("slowq")
    ml.jobs.create_or_update(shell_job(name, "true", ensure_environment(ml)))
    assert ml.jobs.get(name).status == "Queued"
    assert wait_for(ml, name).status == "Completed"
    job = ml.jobs.get(name)
    details = ml.jobs._runs_operations.get_run_details(name)
    created = job.creation_context.created_at
    queued_s = (details.start_time_utc - created).total_seconds()
    assert queued_s >= 1.5, (created, details.start_time_utc)
    assert isinstance(created, dt.datetime)


def test_state_survives_a_restart_and_unfinished_jobs_run_again(fresh_aml_service, tmp_path):
    service = fresh_aml_service(max_nodes=1)
    ml = service.ml_client()
    env = ensure_environment(ml)
    done, interrupted, waiting = _name("done"), _name("interrupted"), _name("waiting")
    ml.jobs.create_or_update(shell_job(done, "true", env, tags={"restart": "yes"}))
    assert wait_for(ml, done).status == "Completed"
    mark = tmp_path / "first-attempt"
    command = f"if [ -e {mark} ]; then echo second attempt; exit 0; fi; touch {mark}; sleep 120"
    ml.jobs.create_or_update(shell_job(interrupted, command, env, tags={"restart": "yes"}))
    ml.jobs.create_or_update(shell_job(waiting, "true", env, tags={"restart": "yes"}))
    wait_for(ml, interrupted, {"Running"})
    assert ml.jobs.get(waiting).status == "Queued"  # one node, taken

    service.restart()
    ml = service.ml_client()  # same port and certificate: the same settings still work
    assert set(service.info["requeued_jobs"]) == {interrupted, waiting}
    assert wait_for(ml, interrupted).status == "Completed"
    assert wait_for(ml, waiting).status == "Completed"
    assert ml.jobs.get(done).status == "Completed"
    assert {j.name for j in ml.jobs.list(tag="restart=yes")} == {done, interrupted, waiting}
    assert ml.environments.get("genomics", version="1").name == "genomics"
