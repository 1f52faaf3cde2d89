"""Faults: throttling, 5xx, dropped and cut connections, an outage, and misconfiguration."""

import hashlib
import os
import threading
import time

import pytest
from snakemake_interface_common.exceptions import WorkflowError

from tests.fixtures.azurite import Azurite, free_port
from tests.fixtures.storage import FaultProxy, write

Q = "azureml://datastores/workspaceblobstore/paths"


@pytest.fixture
def via_proxy(storage_proxy, storage_provider, storage_container, azurite):
    return storage_provider(storage_container, account_url=storage_proxy.endpoint(azurite.account))


@pytest.mark.timeout(60)
def test_throttling_and_server_errors_are_retried(
    via_proxy, storage_proxy, storage_service, storage_container
):
    obj = via_proxy.object(f"{Q}/retry/a.txt")
    write(obj.local_path(), b"payload")
    storage_proxy.inject(429, 503, 500)
    obj.store_object()
    assert storage_proxy.count(lambda m, p: m == "HEAD") >= 1
    assert storage_proxy.count() >= 5  # three refused attempts, then the real calls
    blob = storage_service.get_blob_client(storage_container, "retry/a.txt")
    assert blob.download_blob().readall() == b"payload"


@pytest.mark.timeout(60)
def test_dropped_connections_are_retried(via_proxy, storage_proxy):
    obj = via_proxy.object(f"{Q}/retry/b.txt")
    write(obj.local_path(), b"payload")
    storage_proxy.inject("drop", "drop")
    obj.store_object()
    obj.local_path().unlink()
    storage_proxy.inject("drop", when=lambda method, path: method == "GET")
    obj.retrieve_object()
    assert obj.local_path().read_bytes() == b"payload"


@pytest.mark.timeout(60)
def test_cut_downloads_are_never_taken_as_complete(via_proxy, storage_proxy):
    obj = via_proxy.object(f"{Q}/retry/c.bin")
    data = os.urandom(3 << 20)
    write(obj.local_path(), data)
    obj.store_object()
    obj.local_path().unlink()

    storage_proxy.inject("truncate", when=lambda method, path: method == "GET")
    obj.retrieve_object()  # one cut response: retried
    assert obj.local_path().read_bytes() == data

    obj.local_path().unlink()
    storage_proxy.inject(*["truncate"] * 30, when=lambda method, path: method == "GET")
    with pytest.raises(WorkflowError):
        obj.retrieve_object()
    assert not obj.local_path().exists()
    assert not list(obj.local_path().parent.glob("*partial*"))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("direction", ["upload", "download"])
def test_outage_during_transfer(direction, tmp_path, storage_key_env):
    """Azurite stopped mid-transfer and started again: completed correctly or a clear error."""
    from azure.storage.blob import BlobServiceClient

    from snakemake_storage_plugin_azureml import StorageProvider, StorageProviderSettings

    server = Azurite(location=tmp_path / "azurite")
    server.start()
    proxy = FaultProxy(upstream_port=server.port).start()
    try:
        service = BlobServiceClient.from_connection_string(server.connection_string)
        service.create_container("outage")
        provider = StorageProvider(
            local_prefix=tmp_path / "local",
            logger=None,
            settings=StorageProviderSettings(
                account_url=proxy.endpoint(server.account), container="outage"
            ),
        )
        obj = provider.object(f"{Q}/big.bin")
        data = os.urandom(1 << 20) * 48
        write(obj.local_path(), data)
        if direction == "download":
            obj.store_object()
            obj.local_path().unlink()
        proxy.reset()
        transfer = obj.store_object if direction == "upload" else obj.retrieve_object
        outcome: list[BaseException | None] = []
        worker = threading.Thread(target=lambda: outcome.append(_run(transfer)))
        worker.start()
        busy = "comp=block" if direction == "upload" else ""
        deadline = time.monotonic() + 30
        while proxy.count(lambda m, p: m in ("PUT", "GET") and busy in p) < 2:
            assert time.monotonic() < deadline, "transfer never started"
            time.sleep(0.01)
        server.stop()
        time.sleep(1)
        server.start()
        worker.join(90)
        assert not worker.is_alive()
        error = outcome[0]
        expected = hashlib.md5(data).hexdigest()
        if direction == "upload":
            blob = service.get_blob_client("outage", "big.bin")
            if error is None:
                assert (
                    bytes(blob.get_blob_properties().content_settings.content_md5).hex() == expected
                )
                assert hashlib.md5(blob.download_blob().readall()).hexdigest() == expected
            else:
                assert isinstance(error, WorkflowError), error
                assert not blob.exists()
        else:
            if error is None:
                assert hashlib.md5(obj.local_path().read_bytes()).hexdigest() == expected
            else:
                assert isinstance(error, WorkflowError), error
                assert not obj.local_path().exists()
    finally:
        proxy.stop()
        server.stop()


def _run(func) -> BaseException | None:
    try:
        func()
    except BaseException as e:  # noqa: BLE001 - handed to the test thread
        return e
    return None


@pytest.mark.timeout(30)
def test_wrong_key_is_a_clear_error(storage_provider, storage_container, monkeypatch, azurite):
    wrong = azurite.key[:-8] + "AAAAAAA="
    monkeypatch.setenv("SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_KEY", wrong)
    obj = storage_provider(storage_container).object(f"{Q}/x.txt")
    with pytest.raises(WorkflowError) as info:
        obj.exists()
    message = str(info.value)
    assert "access denied" in message and "HTTP 403" in message
    assert "SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_KEY" in message
    assert wrong not in message


@pytest.mark.timeout(30)
def test_missing_container_is_a_clear_error(storage_provider):
    obj = storage_provider("no-such-container").object(f"{Q}/x.txt")
    with pytest.raises(WorkflowError, match="container 'no-such-container' .*does not exist"):
        obj.exists()
    with pytest.raises(WorkflowError, match="does not exist"):
        provider_obj_store(obj)


def provider_obj_store(obj) -> None:
    write(obj.local_path(), b"x")
    obj.store_object()


@pytest.mark.timeout(30)
def test_closed_port_is_a_clear_error(storage_provider):
    closed = f"http://127.0.0.1:{free_port()}/devstoreaccount1"
    obj = storage_provider("anything", account_url=closed).object(f"{Q}/x.txt")
    with pytest.raises(WorkflowError, match="cannot connect to .*Connection refused"):
        obj.exists()


@pytest.mark.timeout(30)
def test_sas_token_never_appears_in_errors(tmp_path, storage_container, azurite, monkeypatch):
    from snakemake_storage_plugin_azureml import StorageProvider, StorageProviderSettings

    sas = "sv=2025-11-05&sr=c&sp=rl&se=2030-01-01T00%3A00%3A00Z&sig=bm90LWEtcmVhbC1zaWduYXR1cmU%3D"
    monkeypatch.delenv("SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_KEY", raising=False)
    monkeypatch.setenv("SNAKEMAKE_STORAGE_AZUREML_WORKSPACEBLOBSTORE_SAS_TOKEN", sas)
    provider = StorageProvider(
        local_prefix=tmp_path,
        logger=None,
        settings=StorageProviderSettings(
            account_url=azurite.blob_endpoint, container=storage_container
        ),
    )
    with pytest.raises(WorkflowError) as info:
        provider.object(f"{Q}/x.txt").exists()
    message = str(info.value)
    assert "sas token from $SNAKEMAKE_STORAGE_AZUREML_WORKSPACEBLOBSTORE_SAS_TOKEN" in message
    assert "bm90LWEtcmVhbC1zaWduYXR1cmU" not in message
