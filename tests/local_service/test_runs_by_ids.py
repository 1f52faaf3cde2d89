"""Run history's batch lookup by run ids, through the SDK's own operation for it."""

from __future__ import annotations

import uuid

import pytest

from tests.local_service.helpers import (
    api_call,
    ensure_environment,
    shell_job,
    wait_for,
    workspace_path,
)

ROUTE_SUFFIX = "/experiments/{experimentName}/runs/runIds"


def runs_by_ids(ml, experiment: str, run_ids: list[str]):
    """BatchRunResult for the ids, as `AmlClient.statuses` asks for it."""
    from azure.ai.ml._restclient.runhistory.models import GetRunsByIds

    runs = ml.jobs._runs_operations
    return runs._operation.get_by_ids_by_experiment_name(
        runs._subscription_id,
        runs._resource_group_name,
        runs._workspace_name,
        experiment,
        body=GetRunsByIds(run_ids=run_ids),
    )


def test_known_ids_give_their_runs_and_the_others_errors(aml_service):
    ml = aml_service.ml_client()
    env = ensure_environment(ml)
    run = uuid.uuid4().hex[:8]
    experiment = f"batch-{run}"
    done, failed, elsewhere = (f"{k}-{run}" for k in ("done", "failed", "elsewhere"))
    for name, cmd, exp in ((done, "true", experiment), (failed, "exit 3", experiment)):
        ml.jobs.create_or_update(shell_job(name, cmd, env, experiment_name=exp))
    ml.jobs.create_or_update(shell_job(elsewhere, "true", env, experiment_name="other"))
    for name in (done, failed):
        wait_for(ml, name)
    never = f"never-{run}"

    result = runs_by_ids(ml, experiment, [done, failed, elsewhere, never])

    assert {k: r.status for k, r in result.runs.items()} == {done: "Completed", failed: "Failed"}
    assert result.runs[done].run_id == done and result.runs[done].experiment_id == experiment
    assert set(result.errors) == {elsewhere, never}
    assert result.errors[never].error.code == "UserError"
    assert never in result.errors[never].error.message
    routes = [r["route"] for r in aml_service.requests()]
    assert sum(r.endswith(ROUTE_SUFFIX) for r in routes) == 1


def lookup_path(service, experiment: str = "x") -> str:
    return f"/history/v1.0{workspace_path(service)}/experiments/{experiment}/runs/runIds"


@pytest.mark.parametrize("body", [{}, {"runIds": "a"}, {"runIds": ["a", 1]}, ["a"]])
def test_a_bad_body_is_a_400(aml_service, body):
    status, _, answer = api_call(aml_service, "POST", lookup_path(aml_service), body)
    assert status == 400
    assert answer["error"]["code"] == "UserError" and "runIds" in answer["error"]["message"]


def test_the_lookup_is_throttled_and_logged_like_every_route(aml_service):
    aml_service.set_faults(throttle_fraction=1.0, retry_after=7)
    status, headers, _ = api_call(aml_service, "POST", lookup_path(aml_service), {"runIds": []})
    assert status == 429 and headers.get("Retry-After") == "7"
    [record] = aml_service.requests()
    assert record["route"].endswith(ROUTE_SUFFIX) and record["status"] == 429
