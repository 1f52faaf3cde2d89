"""Pipeline jobs with one parallel step, submitted by the real SDK: mini-batches over a folder's
files, workers that init() once, retries, thresholds, rows, the step as a child run, cancel."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import pytest
import yaml

from tests.local_service.helpers import api_call, ensure_environment, wait_for, workspace_path

# Writes one marker per init() and per run() try; fails items named "bad*" always, items named
# "flaky*" on their first try; items named "slow*" sleep for SLOW seconds.
ENTRY = """
import os, time, uuid
from pathlib import Path

MARKS = Path(os.environ["MARKS"])

def init():
    (MARKS / f"init-{os.getpid()}").touch()

def run(mini_batch):
    rows = []
    for item in mini_batch:
        name = Path(item).name
        tries = MARKS / f"try-{name}"
        with tries.open("a") as f:
            f.write("x")
        print(f"running {name}")
        if name.startswith("bad") or (name.startswith("flaky") and len(tries.read_text()) == 1):
            raise RuntimeError(f"item {name} failed")
        if name.startswith("slow"):
            time.sleep(float(os.environ.get("SLOW", "0")))
        rows.append(f"{name} ok")
    return rows
"""


def pipeline_job(
    tmp_path: Path, env: str, folder: str, experiment: str = "pipelines", **node
) -> tuple[str, object]:
    """A pipeline job with one parallel node over the files of `folder` (name, SDK job)."""
    from azure.ai.ml import load_job

    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "entry.py").write_text(ENTRY)
    marks = tmp_path / "marks"
    marks.mkdir(exist_ok=True)
    name = f"pipe-{uuid.uuid4().hex[:8]}"
    step = {
        "type": "parallel",
        "compute": "azureml:genomics-cluster",
        "inputs": {"items": "${{parent.inputs.items}}"},
        "outputs": {"rows": "${{parent.outputs.rows}}"},
        "input_data": "${{inputs.items}}",
        "mini_batch_size": "1",
        "resources": {"instance_count": 2},
        "max_concurrency_per_instance": 2,
        "retry_settings": {"max_retries": 1, "timeout": 30},
        "mini_batch_error_threshold": 0,
        "environment_variables": {"MARKS": str(marks)},
        "task": {
            "type": "run_function",
            "code": str(code),
            "entry_script": "entry.py",
            "environment": env,
            "append_row_to": "${{outputs.rows}}",
        },
        **node,
    }
    spec = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
        "type": "pipeline",
        "name": name,
        "experiment_name": experiment,
        "inputs": {"items": {"type": "uri_folder", "path": folder}},
        "outputs": {"rows": {"type": "uri_file"}},
        "jobs": {"members": step},
    }
    return name, load_job(io.StringIO(yaml.safe_dump(spec)))


def items_folder(service, names: list[str]) -> str:
    """A folder of one small file per item on the blob datastore; its azureml:// URI."""
    folder = f"items-{uuid.uuid4().hex[:8]}"
    container = service.container()
    for name in names:
        container.upload_blob(f"{folder}/{name}", b"x")
    return f"azureml://datastores/workspaceblobstore/paths/{folder}/"


def _blob(service, path: str) -> str:
    return service.container().download_blob(path).readall().decode()


def _step(ml, name: str):
    (step,) = list(ml.jobs.list(parent_job_name=name))
    return step


def test_items_run_in_mini_batches_with_retries_and_rows(aml_service, tmp_path):
    ml = aml_service.ml_client()
    env = ensure_environment(ml, parallel=True)
    items = ["a.txt", "b.txt", "c.txt", "flaky.txt", "e.txt"]
    name, job = pipeline_job(tmp_path, env, items_folder(aml_service, items))
    ml.jobs.create_or_update(job)
    assert wait_for(ml, name, timeout_s=120).status == "Completed"

    step = _step(ml, name)
    assert step.status == "Completed" and step.display_name == "members"
    # GET jobs/<step> answers as Azure does for a child run: the SDK reads it from run history
    got = ml.jobs.get(step.name)
    assert (got.name, got.status, got.display_name) == (step.name, "Completed", "members")
    rows = _blob(aml_service, f"azureml/{name}/rows/rows").splitlines()
    assert sorted(rows) == sorted(f"{i} ok" for i in items)
    marks = tmp_path / "marks"
    assert (marks / "try-flaky.txt").read_text() == "xx"  # retried once, then succeeded
    inits = list(marks.glob("init-*"))
    assert 1 <= len(inits) <= 4  # one init() per worker process (2 nodes x 2), not per item
    logs = aml_service.container("workspaceartifactstore")
    prefix = f"ExperimentRun/dcid.{step.name}/logs/"
    names = {b.name[len(prefix) :] for b in logs.list_blobs(name_starts_with=prefix)}
    assert "job_result.txt" in names
    assert any(n.startswith("user/error/") for n in names)  # the flaky item's first try
    assert any(n.startswith("user/stdout/node") for n in names)


def test_item_failing_every_try_fails_step_andpipeline_job(aml_service, tmp_path):
    ml = aml_service.ml_client()
    env = ensure_environment(ml, parallel=True)
    # one worker: a.txt is done before bad.txt fails the step (with more, a step stopped by
    # the threshold may end before another worker's item, on Azure too)
    name, job = pipeline_job(
        tmp_path, env, items_folder(aml_service, ["a.txt", "bad.txt"]),
        resources={"instance_count": 1}, max_concurrency_per_instance=1,
    )  # fmt: skip
    ml.jobs.create_or_update(job)
    assert wait_for(ml, name, timeout_s=120).status == "Failed"
    details = ml.jobs._runs_operations.get_run_details(name)
    assert "Failed nodes: /members" in details.error.error.message
    step = _step(ml, name)
    assert step.status == "Failed"
    assert (tmp_path / "marks" / "try-bad.txt").read_text() == "xx"  # max_retries 1
    result = aml_service.container("workspaceartifactstore").download_blob(
        f"ExperimentRun/dcid.{step.name}/logs/job_result.txt"
    )
    assert "mini_batch_error_threshold 0" in result.readall().decode()
    rows = _blob(aml_service, f"azureml/{name}/rows/rows").splitlines()
    assert rows == ["a.txt ok"]  # the rows of the items that succeeded


def test_run_longer_than_the_default_timeout_is_killed_and_retried(aml_service, tmp_path):
    ml = aml_service.ml_client()
    name, job = pipeline_job(
        tmp_path,
        ensure_environment(ml, parallel=True),
        items_folder(aml_service, ["slow.txt"]),
        retry_settings={"max_retries": 1, "timeout": 1},
        environment_variables={"MARKS": str(tmp_path / "marks"), "SLOW": "30"},
    )
    ml.jobs.create_or_update(job)
    assert wait_for(ml, name, timeout_s=60).status == "Failed"
    assert (tmp_path / "marks" / "try-slow.txt").read_text() == "xx"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_cancel_reaches_every_worker(aml_service, tmp_path):
    ml = aml_service.ml_client()
    name, job = pipeline_job(
        tmp_path,
        ensure_environment(ml, parallel=True),
        items_folder(aml_service, ["slow1.txt", "slow2.txt", "slow3.txt"]),
        environment_variables={"MARKS": str(tmp_path / "marks"), "SLOW": "120"},
    )
    ml.jobs.create_or_update(job)
    marks = tmp_path / "marks"
    wait_for(ml, name, {"Running"})
    for _ in range(200):
        if len(list(marks.glob("try-*"))) == 3:
            break
        import time

        time.sleep(0.1)
    pids = [int(p.name.split("-")[1]) for p in marks.glob("init-*")]
    assert pids
    ml.jobs.begin_cancel(name).result()
    assert wait_for(ml, name).status == "Canceled"
    assert _step(ml, name).status == "Canceled"
    assert not [pid for pid in pids if _alive(pid)]


def test_pipeline_needs_the_user_token_and_nodes_within_the_cluster(aml_service, tmp_path):
    from azure.core.exceptions import HttpResponseError

    ml = aml_service.ml_client()
    env = ensure_environment(ml, parallel=True)
    folder = items_folder(aml_service, ["a.txt"])
    name, job = pipeline_job(tmp_path, env, folder, resources={"instance_count": 99})
    with pytest.raises(HttpResponseError, match="instance_count: 99 nodes requested"):
        ml.jobs.create_or_update(job)
    name, job = pipeline_job(tmp_path, env, folder)
    body = job._to_rest_object().as_dict()
    body["properties"]["jobs"] = {}  # a body without nodes, sent without x-azureml-token
    status, _, answer = api_call(
        aml_service,
        "PUT",
        f"{workspace_path(aml_service)}/jobs/{name}?api-version=2024-01-01-preview",
        body,
    )
    assert status == 401 and "x-azureml-token" in answer["error"]["message"]


@pytest.mark.parametrize("timeout", [0, 259201])
def test_retry_timeout_outside_azures_range_is_refused(aml_service, tmp_path, timeout):
    from azure.core.exceptions import HttpResponseError

    ml = aml_service.ml_client()
    folder = items_folder(aml_service, ["a.txt"])
    retry = {"max_retries": 1, "timeout": timeout}
    name, job = pipeline_job(
        tmp_path, ensure_environment(ml, parallel=True), folder, retry_settings=retry
    )
    with pytest.raises(HttpResponseError, match=r"retry_settings\.timeout") as refused:
        ml.jobs.create_or_update(job)
    assert refused.value.status_code == 400
    name, job = pipeline_job(
        tmp_path,
        ensure_environment(ml, parallel=True),
        folder,
        retry_settings={"timeout": 259200},
    )
    ml.jobs.create_or_update(job)  # the top of the range is accepted
    assert wait_for(ml, name, timeout_s=120).status == "Completed"
