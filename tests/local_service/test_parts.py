"""The service's pure parts, without a server: validation, URIs, durations, faults, scheduler."""

from __future__ import annotations

import threading
import time

import jwt
import pytest

from aml_local.bindings import duration_seconds, parse_data_uri, substitute
from aml_local.connect import LocalServiceCredential, cloud_metadata
from aml_local.errors import ServiceError
from aml_local.faults import FaultInjector, FaultSettings
from aml_local.scheduler import Scheduler
from aml_local.validation import validate


def test_validation_names_missing_fields_and_unknown_job_types():
    assert validate("JobBase", {"properties": {"jobType": "Command"}}) == [
        "body.properties.command: required field is missing",
        "body.properties.environmentId: required field is missing",
    ]
    assert "unknown value 'Nope'" in validate("JobBase", {"properties": {"jobType": "Nope"}})[0]
    body = {"properties": {"jobType": "Command", "command": "x", "environmentId": "e"}}
    assert validate("JobBase", body) == []
    body["properties"]["inputs"] = {"a": {"jobInputType": "uri_file"}}
    assert validate("JobBase", body) == ["body.properties.inputs.a.uri: required field is missing"]
    body["properties"]["inputs"] = {"a": {"jobInputType": "literal", "value": "1"}}
    body["properties"]["environmentVariables"] = ["not", "a", "map"]
    assert validate("JobBase", body) == [
        "body.properties.environmentVariables: expected an object, got list"
    ]


@pytest.mark.parametrize(
    ("uri", "datastore", "path"),
    [
        ("azureml://datastores/workspaceblobstore/paths/a/b.fq", "workspaceblobstore", "a/b.fq"),
        (
            "azureml://subscriptions/s/resourcegroups/rg/workspaces/ws/datastores/d/paths/x/",
            "d",
            "x/",
        ),
    ],
)
def test_data_uris_parse(uri, datastore, path):
    ref = parse_data_uri(uri, "inputs.x")
    assert (ref.datastore, ref.path) == (datastore, path)


@pytest.mark.parametrize("uri", ["azureml://datastores/d/a.fq", "https://x/y", "azureml:d:1"])
def test_malformed_data_uris_are_user_errors_naming_the_field(uri):
    with pytest.raises(ServiceError) as err:
        parse_data_uri(uri, "properties.inputs.reads.uri")
    assert err.value.status == 400 and "properties.inputs.reads.uri" in err.value.message


def test_durations_and_placeholders():
    assert duration_seconds("PT1H30M") == 5400
    assert duration_seconds("P1DT2S") == 86402
    with pytest.raises(ServiceError):
        duration_seconds("1 hour")
    command = "tool ${{inputs.reads}} -o ${{ outputs.bam }}"
    values = {("inputs", "reads"): "/in/r.fq", ("outputs", "bam"): "/out"}
    assert substitute(command, values) == "tool /in/r.fq -o /out"


def test_fault_settings_reject_unknown_names_and_statuses():
    with pytest.raises(ValueError, match="unknown fault settings"):
        FaultSettings.from_dict({"fail_everything": True})
    with pytest.raises(ValueError, match="429 or 503"):
        FaultSettings.from_dict({"throttle_status": 500})


def test_fault_decisions():
    faults = FaultInjector(FaultSettings(fail_tag="chaos", preempt_pattern="^lp-"))
    assert faults.job_failure("a", {"chaos": "1"}) is not None
    assert faults.job_failure("a", {"calm": "1"}) is None
    assert faults.preemption_delay("lp-1") == 0.0 and faults.preemption_delay("hp-1") is None
    assert faults.preemption_delay("lp-1") is None  # once: the restarted job runs to its end
    throttled = FaultInjector(FaultSettings(throttle_fraction=1.0, retry_after=3)).throttle()
    assert throttled.status == 429 and throttled.headers == {"Retry-After": "3"}


def test_scheduler_never_exceeds_its_nodes_and_runs_everything():
    running, peak, done = 0, 0, []
    lock = threading.Lock()

    def start(name: str) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1
            done.append(name)

    scheduler = Scheduler(3, start)
    for i in range(30):
        scheduler.submit(f"j{i}", nodes=1 + i % 2)
    deadline = time.monotonic() + 30
    while len(done) < 30 and time.monotonic() < deadline:
        time.sleep(0.01)
    scheduler.stop()
    assert sorted(done) == sorted(f"j{i}" for i in range(30))
    assert scheduler.peak_in_use <= 3 and peak <= 3


def test_credential_token_has_the_audience_the_sdk_checks():
    base = "https://127.0.0.1:5000"
    token = LocalServiceCredential().get_token(base + "/.default").token
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == base and claims["tid"]
    meta = cloud_metadata(base)
    assert meta["cloud_metadata"]["aml_resource_id"] == base + "/"
    assert meta["cloud"] != cloud_metadata("https://127.0.0.1:5001")["cloud"]
