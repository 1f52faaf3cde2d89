"""Each fault mode of the local service, and state surviving a restart."""

from __future__ import annotations

import datetime as dt
import http.client
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


def _log_of(service, name: str) -> str:
    """The job's std_log.txt as uploaded to the artifact store."""
    blob = f"ExperimentRun/dcid.{name}/user_logs/std_log.txt"
    return service.container("workspaceartifactstore").download_blob(blob).readall().decode()


def _assert_restarted(service, ml, name: str, mark) -> None:
    """Preempted, queued again, run again from the start: the same job completes."""
    assert wait_for(ml, name).status == "Completed"
    assert run_error(ml, name) is None
    assert mark.read_text().splitlines() == ["run", "run"]  # the command ran twice
    assert "Job restarted after 1 preemption(s) of its node." in _log_of(service, name)


def test_preempted_job_is_queued_again_and_restarts(aml_service, tmp_path):
    ml = aml_service.ml_client()
    name, mark = _name("victim"), tmp_path / "runs"
    command = f"echo run >> {mark}; [ $(wc -l < {mark}) -gt 1 ] || sleep 120"
    ml.jobs.create_or_update(shell_job(name, command, ensure_environment(ml)))
    wait_for(ml, name, {"Running"})
    aml_service.set_faults(requeue_delay=3600)  # a node comes back much later on Azure
    assert aml_service.preempt(name) == [name]
    assert wait_for(ml, name, {"Queued"}).status == "Queued"
    aml_service.set_faults()
    ml.jobs.begin_cancel(name).result()  # a re-queued job is still the same, cancelable job
    assert wait_for(ml, name).status == "Canceled"


def test_jobs_matching_pattern_are_preempted_once_and_complete(aml_service, tmp_path):
    ml = aml_service.ml_client()
    aml_service.set_faults(preempt_pattern="^lowpri-", preempt_after=0.5)
    name, mark = _name("lowpri"), tmp_path / "runs"
    command = f"echo run >> {mark}; sleep 2"
    ml.jobs.create_or_update(shell_job(name, command, ensure_environment(ml)))
    _assert_restarted(aml_service, ml, name, mark)


def test_unresponsive_job_resumes_or_is_canceled(aml_service):
    ml = aml_service.ml_client()
    env = ensure_environment(ml)
    aml_service.set_faults(not_responding_pattern="^mute-", not_responding_for=1.0)
    resumes, canceled = _name("mute"), _name("mute")
    ml.jobs.create_or_update(shell_job(resumes, "sleep 3", env))
    ml.jobs.create_or_update(shell_job(canceled, "sleep 120", env))
    wait_for(ml, resumes, {"NotResponding"})
    assert wait_for(ml, resumes).status == "Completed"  # NotResponding was not the end
    aml_service.set_faults(not_responding_pattern="^mute-", not_responding_for=3600)
    other = _name("mute")
    ml.jobs.create_or_update(shell_job(other, "sleep 120", env))
    wait_for(ml, other, {"NotResponding"})
    ml.jobs.begin_cancel(other).result()
    assert wait_for(ml, other).status == "Canceled"
    ml.jobs.begin_cancel(canceled).result()


def test_dropped_answer_to_a_job_put_leaves_the_job_created(aml_service):
    from azure.ai.ml.entities._job.to_rest_functions import to_rest_job_object

    ml = aml_service.ml_client()
    env = ensure_environment(ml)
    aml_service.set_faults(drop_response_pattern="^lost-")
    name = _name("lost")
    env_id = f"{workspace_path(aml_service)}/environments/{env.split(':')[1]}/versions/1"
    body = to_rest_job_object(shell_job(name, "true", env_id)._to_job()).as_dict()
    path = f"{workspace_path(aml_service)}/jobs/{name}?api-version=2025-12-01"
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        api_call(aml_service, "PUT", path, body)
    assert wait_for(ml, name).status == "Completed"  # the work was done, the answer lost
    code, _, _ = api_call(aml_service, "PUT", path, body)  # only the first answer is lost
    assert code == 200
    puts = [
        r["status"]
        for r in aml_service.requests()
        if r["route"].endswith("/jobs/{name}") and r["method"] == "PUT"
    ]
    assert puts == [0, 200]


def test_batch_status_lookup_refused(aml_service):
    aml_service.set_faults(refuse_batch_status=403)
    path = f"/history/v1.0{workspace_path(aml_service)}/experiments/Default/runs/runIds"
    code, _, body = api_call(aml_service, "POST", path, {"runIds": ["x"]})
    assert code == 403 and body["error"]["code"] == "AuthorizationFailed"


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
