"""The service's pure parts, without a server: validation, URIs, durations, faults, scheduler."""

from __future__ import annotations

import threading
import time

import jwt
import pytest

from aml_local.bindings import duration_seconds, parse_data_uri, substitute
from aml_local.connect import cloud_metadata
from aml_local.errors import ServiceError
from aml_local.faults import FaultInjector, FaultSettings
from aml_local.identity import (
    STORAGE_RESOURCE,
    TENANT_ID,
    Identities,
    TokenError,
    cluster_identities,
    without_credentials,
)
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


def test_scheduler_never_exceeds_its_nodes_and_runs_everything(tmp_path):
    running, peak, done = 0, 0, []
    lock = threading.Lock()

    def start(name: str, _nodes) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1
            done.append(name)

    scheduler = Scheduler(3, start, tmp_path / "nodes")
    for i in range(30):
        scheduler.submit(f"j{i}", nodes=1 + i % 2)
    deadline = time.monotonic() + 30
    while len(done) < 30 and time.monotonic() < deadline:
        time.sleep(0.01)
    scheduler.stop()
    assert sorted(done) == sorted(f"j{i}" for i in range(30))
    assert scheduler.peak_in_use <= 3 and peak <= 3


def test_cloud_metadata_sends_every_call_to_the_service():
    base = "https://127.0.0.1:5000"
    meta = cloud_metadata(base)
    assert meta["cloud_metadata"]["aml_resource_id"] == base + "/"
    assert meta["cloud"] != cloud_metadata("https://127.0.0.1:5001")["cloud"]


def test_identity_tokens_carry_what_the_sdk_and_azurite_check_and_only_ours_pass(tmp_path):
    base = "https://127.0.0.1:5000"
    ids = Identities(tmp_path / "a", "/ws", {})
    status, body = ids.msi_token(ids.user_secret, {"resource": base})
    assert status == 200 and body["resource"] == base and body["expires_on"] > time.time()
    claims = ids.verify(body["access_token"], [base])
    assert claims["aud"] == base and claims["iss"] == f"https://sts.windows.net/{TENANT_ID}/"
    assert claims["tid"] == TENANT_ID and claims["nbf"] < time.time() < claims["exp"]
    # the key stays in the state folder: a restarted service accepts its earlier tokens
    assert Identities(tmp_path / "a", "/ws", {}).verify(body["access_token"], [base])
    unsigned = jwt.encode({**claims}, None, algorithm="none")
    forged = jwt.encode({**claims}, "a-guessed-signing-key-of-32-bytes", algorithm="HS256")
    _, foreign = Identities(tmp_path / "b", "/ws", {}).msi_token(
        Identities(tmp_path / "b", "/ws", {}).user_secret, {"resource": base}
    )
    storage = ids.msi_token(ids.user_secret, {"resource": STORAGE_RESOURCE})[1]["access_token"]
    for token, code in [
        (unsigned, "InvalidAuthenticationToken"),
        (forged, "InvalidAuthenticationToken"),
        (foreign["access_token"], "InvalidAuthenticationToken"),
        (storage, "InvalidAuthenticationTokenAudience"),
    ]:
        with pytest.raises(TokenError) as err:
            ids.verify(token, [base])
        assert err.value.code == code
    assert ids.msi_token("", {"resource": base})[0] == 401
    assert ids.msi_token("wrong", {"resource": base})[0] == 401


def test_cluster_identities_give_nodes_their_endpoint_and_tokens_as_azure_ml_does(tmp_path):
    identities = cluster_identities(["uami=user:1111", "bare=none"])
    ids = Identities(tmp_path, "/ws", identities)
    # Azure ML compute's endpoint wants the client id, a system-assigned identity's too
    system = ids.node_environment("genomics-cluster", "https://x/msi")
    assert set(system) == {"MSI_ENDPOINT", "MSI_SECRET", "DEFAULT_IDENTITY_CLIENT_ID"}
    status, body = ids.msi_token(system["MSI_SECRET"], {"resource": STORAGE_RESOURCE})
    assert status == 400 and "DEFAULT_IDENTITY_CLIENT_ID" in body["error_description"]
    system_id = system["DEFAULT_IDENTITY_CLIENT_ID"]
    query = {"resource": STORAGE_RESOURCE, "clientid": system_id}
    status, body = ids.msi_token(system["MSI_SECRET"], query)
    assert status == 200
    assert ids.verify(body["access_token"], [STORAGE_RESOURCE])["appid"] == system_id
    user = ids.node_environment("uami", "https://x/msi")
    assert user["DEFAULT_IDENTITY_CLIENT_ID"] == "1111"
    status, body = ids.msi_token(user["MSI_SECRET"], {"resource": STORAGE_RESOURCE})
    assert status == 400 and "client id" in body["error_description"]
    query = {"resource": STORAGE_RESOURCE, "clientid": system_id}
    status, body = ids.msi_token(user["MSI_SECRET"], query)
    assert status == 400 and "Storage Blob Data Contributor" in body["error_description"]
    query = {"resource": STORAGE_RESOURCE, "clientid": "1111"}
    status, body = ids.msi_token(user["MSI_SECRET"], query)
    assert status == 200 and body["client_id"] == "1111"
    assert ids.node_environment("bare", "https://x/msi") == {}
    with pytest.raises(ValueError, match="NAME=system"):
        cluster_identities(["nocluster"])


def test_nodes_inherit_no_credential_from_the_service_host():
    host = {
        "PATH": "/bin",
        "MSI_SECRET": "s",
        "AZURE_CLIENT_ID": "c",
        "AZURE_STORAGE_CONNECTION_STRING": "k",
        "SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_KEY": "k",
        "SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_URL": "https://a",
    }
    assert without_credentials(host) == {
        "PATH": "/bin",
        "SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_URL": "https://a",
    }
