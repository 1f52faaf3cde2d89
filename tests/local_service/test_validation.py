"""Bodies Azure ML would reject are rejected with its error shape; auth; request counting."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid

import pytest

from tests.local_service.helpers import api_call, ensure_environment, shell_job, workspace_path

WS_ROUTE = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
    "/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}"
)


def _put_job(service, name: str, body: dict, token: str | None = "default") -> tuple[int, dict]:
    """PUT a raw job body, as the SDK would (bearer JWT, HTTPS)."""
    path = f"{workspace_path(service)}/jobs/{name}?api-version=2025-12-01"
    status, _, payload = api_call(service, "PUT", path, body, token)
    return status, payload


def _rest_body(service, **overrides) -> dict:
    """The REST body the SDK sends for a simple valid command job, with properties changed."""
    from azure.ai.ml import Input
    from azure.ai.ml.entities._job.to_rest_functions import to_rest_job_object

    ml = service.ml_client()
    ensure_environment(ml)
    env_id = f"{workspace_path(service)}/environments/genomics/versions/1"
    reads = Input(type="uri_file", path="azureml://datastores/workspaceblobstore/paths/r1.fq")
    job = shell_job("x", "cat ${{inputs.reads}}", env_id, inputs={"reads": reads})
    body = to_rest_job_object(job._to_job()).as_dict()
    body["properties"].update(overrides)
    return body


def _name() -> str:
    return f"invalid-{uuid.uuid4().hex[:8]}"


def test_a_valid_raw_body_is_accepted(aml_service):
    status, body = _put_job(aml_service, _name(), _rest_body(aml_service))
    assert status == 201 and body["properties"]["status"] in {"Queued", "Preparing", "Running"}


def test_missing_required_field_is_rejected(aml_service):
    body = _rest_body(aml_service)
    del body["properties"]["command"]
    status, error = _put_job(aml_service, _name(), body)
    assert status == 400
    assert error["error"]["code"] == "UserError"
    assert "properties.command: required field is missing" in error["error"]["message"]


def test_unknown_compute_is_rejected_through_the_sdk(aml_service):
    from azure.core.exceptions import HttpResponseError

    ml = aml_service.ml_client()
    job = shell_job(_name(), "true", ensure_environment(ml), compute="no-such-cluster")
    with pytest.raises(HttpResponseError) as err:
        ml.jobs.create_or_update(job)
    assert err.value.status_code == 400
    assert "no-such-cluster" in str(err.value)


def test_unregistered_environment_is_rejected_through_the_sdk(aml_service):
    from azure.core.exceptions import HttpResponseError

    ml = aml_service.ml_client()
    with pytest.raises(HttpResponseError) as err:
        ml.jobs.create_or_update(shell_job(_name(), "true", "azureml:never-registered:9"))
    assert err.value.status_code == 400
    assert "never-registered:9" in str(err.value) and "not registered" in str(err.value)


@pytest.mark.parametrize(
    "uri",
    [
        "azureml://datastores/workspaceblobstore/reads/r1.fq",  # no /paths/
        "azureml://datastores/workspaceblobstore/paths/",  # no path
        "azureml:/datastores/workspaceblobstore/paths/r1.fq",
    ],
)
def test_malformed_azureml_uri_is_rejected(aml_service, uri):
    inputs = {"reads": {"jobInputType": "uri_file", "uri": uri}}
    status, error = _put_job(aml_service, _name(), _rest_body(aml_service, inputs=inputs))
    assert status == 400
    assert "properties.inputs.reads.uri" in error["error"]["message"]


def test_unknown_datastore_and_undeclared_placeholder_are_rejected(aml_service):
    inputs = {"reads": {"jobInputType": "uri_file", "uri": "azureml://datastores/nope/paths/a"}}
    status, error = _put_job(aml_service, _name(), _rest_body(aml_service, inputs=inputs))
    assert status == 400 and "datastore 'nope'" in error["error"]["message"]
    body = _rest_body(aml_service, command="cat ${{inputs.missing}}")
    status, error = _put_job(aml_service, _name(), body)
    assert status == 400 and "inputs.missing" in error["error"]["message"]


def test_requests_without_a_bearer_token_are_refused(aml_service):
    status, error = _put_job(aml_service, _name(), _rest_body(aml_service), token=None)
    assert status == 401 and error["error"]["code"] == "AuthenticationFailed"


def test_request_log_counts_what_a_status_round_costs(aml_service):
    ml = aml_service.ml_client()
    env = ensure_environment(ml)
    name = _name()
    aml_service.clear_requests()
    ml.jobs.create_or_update(shell_job(name, "true", env))
    ml.jobs.get(name)
    routes = [(r["method"], r["route"], r["status"]) for r in aml_service.requests()]
    assert routes == [
        ("PUT", WS_ROUTE + "/jobs/{name}", 201),
        ("GET", WS_ROUTE + "/jobs/{name}", 200),
    ]


def test_unversioned_environment_gets_the_next_version(aml_service):
    from azure.ai.ml.entities import Environment

    ml = aml_service.ml_client()
    name = f"env-{uuid.uuid4().hex[:8]}"
    first = ml.environments.create_or_update(Environment(name=name, image="img:1"))
    second = ml.environments.create_or_update(Environment(name=name, image="img:2"))
    assert (first.version, second.version) == ("1", "2")
    assert ml.environments.get(name, label="latest").image == "img:2"


def test_invalid_fault_settings_are_refused(aml_service):
    with pytest.raises(urllib.error.HTTPError) as err:
        aml_service.set_faults(fail_everything=True)
    assert err.value.code == 400


def test_jobs_list_filters_by_experiment(aml_service):
    ml = aml_service.ml_client()
    env = ensure_environment(ml)
    experiment = f"exp-{uuid.uuid4().hex[:8]}"
    names = {_name() for _ in range(2)}
    for name in names:
        ml.jobs.create_or_update(shell_job(name, "true", env, experiment_name=experiment))
    ml.jobs.create_or_update(shell_job(_name(), "true", env))
    path = f"{workspace_path(aml_service)}/jobs?experimentName={experiment}"
    status, _, page = api_call(aml_service, "GET", path)
    listed = {job["name"] for job in page["value"]}
    assert listed == names
