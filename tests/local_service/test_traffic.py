"""The service counts the bytes each job and the client move per blob (`/_local/traffic`)."""

from __future__ import annotations

import datetime as dt
import os
import uuid

from aml_local.traffic import Caller, Traffic
from tests.local_service.helpers import READS, ensure_environment, run_error, shell_job, wait_for


def test_a_jobs_input_and_output_are_counted_under_its_job_and_node(aml_service):
    from azure.ai.ml import Input, Output

    ml = aml_service.ml_client()
    env = ensure_environment(ml)
    blob = f"traffic/{uuid.uuid4().hex[:8]}/reads.fastq.gz"
    with open(READS, "rb") as fh:
        aml_service.container().upload_blob(blob, fh)
    name = f"traffic-{uuid.uuid4().hex[:8]}"
    job = shell_job(
        name, "head -c 1000 ${{inputs.reads}} > ${{outputs.out}}/head.bin", env,
        inputs={"reads": Input(
            type="uri_file", path=f"azureml://datastores/workspaceblobstore/paths/{blob}"
        )},
        outputs={"out": Output(type="uri_folder")},
    )  # fmt: skip
    ml.jobs.create_or_update(job)
    assert wait_for(ml, name).status == "Completed", run_error(ml, name)

    rows = [r for r in aml_service.control("GET", "traffic")["blobs"] if r["job"] == name]
    by_blob = {r["blob"]: r for r in rows}
    assert by_blob[blob]["read"] == os.path.getsize(READS)
    assert by_blob[blob]["node"].startswith("tvm-")  # the node it ran on
    assert by_blob[f"azureml/{name}/out/head.bin"]["written"] == 1000


def test_client_uploads_through_the_proxy_count_as_written_and_listings_as_no_bytes(aml_service):
    from azure.storage.blob import ContainerClient, ContainerSasPermissions, generate_container_sas

    azurite, container = aml_service.azurite, aml_service.info["datastores"]["workspaceblobstore"]
    sas = generate_container_sas(
        azurite.account, container, account_key=azurite.key,
        permission=ContainerSasPermissions(read=True, write=True, create=True, list=True),
        expiry=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )  # fmt: skip
    client = ContainerClient(
        aml_service.blob_proxy_url, container, credential=sas, connection_verify=azurite.ca_bundle
    )
    blob = f"traffic/{uuid.uuid4().hex[:8]}/data.bin"
    client.upload_blob(blob, b"x" * 5000)
    assert client.download_blob(blob).readall() == b"x" * 5000
    list(client.list_blobs(name_starts_with="traffic/"))

    row = next(r for r in aml_service.control("GET", "traffic")["blobs"] if r["blob"] == blob)
    assert (row["job"], row["node"], row["read"], row["written"]) == (
        "client",
        "client",
        5000,
        5000,
    )


def test_a_nodes_user_agent_names_the_job_and_node_and_block_lists_are_not_data():
    traffic = Traffic()
    agent = "aml-job/j1 aml-node/tvm-1 azsdk-python-storage-blob/12.0"
    traffic.add_request("PUT", "/acct/c/a/b.bam?comp=block&blockid=AA", 201, 800, 0, agent)
    traffic.add_request("PUT", "/acct/c/a/b.bam?comp=blocklist", 201, 90, 0, agent)
    traffic.add_request("GET", "/acct/c/a/b.bam", 206, 0, 800, "azsdk-python-storage-blob/12.0")
    traffic.add_request("GET", "/acct/c?restype=container&comp=list", 200, 0, 4000, agent)
    rows = {(r["job"], r["node"]): r for r in traffic.report()["blobs"]}
    assert rows[("j1", "tvm-1")] == {
        "job": "j1", "node": "tvm-1", "container": "c", "blob": "a/b.bam",
        "read": 0, "written": 800, "requests": 2, "size": 800,  # the size a GET saw
    }  # fmt: skip
    assert rows[("client", "client")]["read"] == 800
    assert Caller.from_user_agent("") == Caller()
