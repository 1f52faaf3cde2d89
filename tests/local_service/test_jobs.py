"""Command jobs through the real azure-ai-ml SDK against the local service, over HTTPS."""

from __future__ import annotations

import gzip
import os
import shutil
import time
import uuid
from pathlib import Path

import pytest

import snakemake_storage_plugin_azureml
from tests.local_service.helpers import READS, ensure_environment, run_error, shell_job, wait_for


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_fastq_job_reads_datastore_writes_output_and_log(aml_service, tmp_path):
    from azure.ai.ml import Input, Output

    ml = aml_service.ml_client()
    env = ensure_environment(ml)
    with open(READS, "rb") as fh:
        aml_service.container().upload_blob("reads/test_1.fastq.gz", fh, overwrite=True)
    name = _name("count")
    job = shell_job(
        name,
        "echo counting; zcat ${{inputs.reads}} | awk 'NR%4==2' | wc -l > ${{outputs.counts}}/n.txt",
        env,
        inputs={"reads": Input(
            type="uri_file", mode="ro_mount",
            path="azureml://datastores/workspaceblobstore/paths/reads/test_1.fastq.gz",
        )},
        outputs={"counts": Output(type="uri_folder", mode="rw_mount")},
    )  # fmt: skip
    created = ml.jobs.create_or_update(job)
    assert created.status in {"NotStarted", "Queued", "Preparing", "Running"}
    done = wait_for(ml, name)
    assert done.status == "Completed", run_error(ml, name)

    with gzip.open(READS, "rt") as fh:
        expected = sum(1 for i, _ in enumerate(fh) if i % 4 == 1)
    blob = aml_service.container().download_blob(f"azureml/{name}/counts/n.txt")
    assert int(blob.readall()) == expected

    ml.jobs.download(name, download_path=tmp_path)
    log = tmp_path / "artifacts" / "user_logs" / "std_log.txt"
    assert log.read_text().startswith("counting")


def test_failing_command_ends_failed_with_its_log(aml_service, tmp_path):
    ml = aml_service.ml_client()
    name = _name("fails")
    ml.jobs.create_or_update(
        shell_job(name, "echo about to fail >&2; exit 3", ensure_environment(ml))
    )
    assert wait_for(ml, name).status == "Failed"
    error = run_error(ml, name)
    assert "exited with code 3" in error["error"]["message"]
    ml.jobs.download(name, download_path=tmp_path)
    assert "about to fail" in (tmp_path / "artifacts/user_logs/std_log.txt").read_text()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def test_cancel_kills_the_whole_process_tree(aml_service, tmp_path):
    ml = aml_service.ml_client()
    name = _name("cancel")
    pids = tmp_path / "pids"
    command = (
        "sleep 300 & echo $! >> $PIDS; bash -c 'sleep 300' & echo $! >> $PIDS; "
        "echo $$ >> $PIDS; wait"
    )
    ml.jobs.create_or_update(
        shell_job(name, command, ensure_environment(ml), environment_variables={"PIDS": str(pids)})
    )
    wait_for(ml, name, {"Running"})
    deadline = time.monotonic() + 20
    while not (pids.exists() and len(pids.read_text().split()) == 3):
        assert time.monotonic() < deadline, "job never wrote its pids"
        time.sleep(0.05)
    started = [int(p) for p in pids.read_text().split()]
    assert all(_alive(p) for p in started)

    ml.jobs.begin_cancel(name).result()
    assert ml.jobs.get(name).status == "Canceled"
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in started if _alive(p)]


def test_list_by_tag_returns_exactly_the_tagged_jobs(aml_service):
    ml = aml_service.ml_client()
    env = ensure_environment(ml)
    run = uuid.uuid4().hex[:8]
    tagged = {_name("tagged") for _ in range(3)}
    for name in sorted(tagged):
        ml.jobs.create_or_update(shell_job(name, "true", env, tags={"batch": run}))
    ml.jobs.create_or_update(shell_job(_name("untagged"), "true", env, tags={"other": run}))
    assert {j.name for j in ml.jobs.list(tag=f"batch={run}")} == tagged


def test_code_folder_is_uploaded_and_the_log_streams(aml_service, tmp_path, capsys):
    ml = aml_service.ml_client()
    src = tmp_path / "src"
    (src / "data").mkdir(parents=True)
    (src / "run.sh").write_text("echo from code; cat data/payload.txt; echo $GREETING\n")
    (src / "data" / "payload.txt").write_text("payload-line\n")
    name = _name("code")
    job = shell_job(
        name, "bash run.sh", ensure_environment(ml), code=str(src),
        environment_variables={"GREETING": "hello-env"},
    )  # fmt: skip
    ml.jobs.create_or_update(job)
    ml.jobs.stream(name)
    assert f"RunId: {name}" in capsys.readouterr().out  # stream followed it to the end
    assert ml.jobs.get(name).status == "Completed"
    log = _log(ml, name, tmp_path)
    assert log.splitlines() == ["from code", "payload-line", "hello-env"]


def _log(ml, name: str, tmp_path: Path) -> str:
    dest = tmp_path / f"dl-{name}"
    ml.jobs.download(name, download_path=dest)
    return (dest / "artifacts" / "user_logs" / "std_log.txt").read_text()


def test_time_limit_cancels_the_job_with_the_reason_in_its_error(aml_service):
    """limits.timeout: "the max run duration, after which the job will be cancelled"."""
    ml = aml_service.ml_client()
    name = _name("slow")
    ml.jobs.create_or_update(shell_job(name, "sleep 120", ensure_environment(ml), timeout=1))
    assert wait_for(ml, name).status == "Canceled"
    assert "time limit (limits.timeout = 1 s)" in run_error(ml, name)["error"]["message"]
    details = ml.jobs._runs_operations.get_run_details(name)
    assert (details.end_time_utc - details.start_time_utc).total_seconds() >= 1


def test_missing_input_fails_early_naming_it(aml_service, tmp_path):
    from azure.ai.ml import Input

    ml = aml_service.ml_client()
    name = _name("noinput")
    path = "azureml://datastores/workspaceblobstore/paths/nowhere/missing.fq.gz"
    job = shell_job(
        name, "cat ${{inputs.reads}}", ensure_environment(ml),
        inputs={"reads": Input(type="uri_file", path=path)},
    )  # fmt: skip
    ml.jobs.create_or_update(job)
    assert wait_for(ml, name).status == "Failed"
    message = run_error(ml, name)["error"]["message"]
    assert "nowhere/missing.fq.gz" in message
    assert "nowhere/missing.fq.gz" in _log(ml, name, tmp_path)


JOB_WRITES_WITH_ITS_IDENTITY = (
    "import json, os\n"
    "from azure.storage.blob import BlobServiceClient\n"
    "from snakemake_storage_plugin_azureml.credentials import default_credential\n"
    "env = os.environ\n"
    "svc = BlobServiceClient(env['AZURE_STORAGE_BLOB_ENDPOINT'], default_credential())\n"
    "container = json.loads(env['AZUREML_DATASTORE_CONTAINERS'])['workspaceblobstore']\n"
    "names = ' '.join(sorted(env))\n"
    "svc.get_blob_client(container, 'identity/' + env['AZUREML_RUN_ID']).upload_blob(names)\n"
)
STORAGE_SECRET_NAMES = ("KEY", "CONNECTION_STRING", "SAS")


def _job_with_identity(service, prefix: str, tmp_path: Path) -> tuple[str, set[str]]:
    """A job that writes to the datastore with the token of its cluster's identity (what the
    storage plugin does, shipped as the job's code as the bridge ships it): its name and the
    names of the variables it saw."""
    ml = service.ml_client()
    name = _name(prefix)
    code = tmp_path / "code"
    plugin = snakemake_storage_plugin_azureml
    shutil.copytree(Path(plugin.__file__).parent, code / plugin.__name__)
    job = shell_job(
        name, 'PYTHONPATH=$PWD python3 -c "$SCRIPT"', ensure_environment(ml), code=str(code),
        environment_variables={"SCRIPT": JOB_WRITES_WITH_ITS_IDENTITY},
    )  # fmt: skip
    ml.jobs.create_or_update(job)
    assert wait_for(ml, name).status == "Completed", run_error(ml, name)
    seen = service.container().download_blob(f"identity/{name}").readall().decode()
    spec = str(ml.jobs.get(name)._to_dict())
    assert service.azurite.key not in spec and "AccountKey" not in spec
    return name, set(seen.split())


def test_job_writes_storage_with_its_cluster_identity_and_holds_no_secret(aml_service, tmp_path):
    _, names = _job_with_identity(aml_service, "identity", tmp_path)
    # set for a system-assigned identity too: Azure ML compute's endpoint wants the client id
    assert {"MSI_ENDPOINT", "MSI_SECRET", "DEFAULT_IDENTITY_CLIENT_ID"} <= names
    assert not [n for n in names if any(s in n for s in STORAGE_SECRET_NAMES)]


def test_user_assigned_cluster_identity_needs_and_gets_its_client_id(fresh_aml_service, tmp_path):
    service = fresh_aml_service(cluster_identities=["genomics-cluster=user:5e1f-uami"])
    _, names = _job_with_identity(service, "uami", tmp_path)
    assert "DEFAULT_IDENTITY_CLIENT_ID" in names


def test_unknown_job_is_a_not_found_error(aml_service):
    from azure.core.exceptions import ResourceNotFoundError

    with pytest.raises(ResourceNotFoundError):
        aml_service.ml_client().jobs.get(_name("never-submitted"))
