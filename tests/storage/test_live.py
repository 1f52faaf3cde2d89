"""Against a real storage account, only when its coordinates are in the environment.

Set AZUREML_STORAGE_LIVE_ACCOUNT_URL and AZUREML_STORAGE_LIVE_CONTAINER; the credential is found
as in normal use (SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_KEY / _SAS_TOKEN / _CONNECTION_STRING, else
DefaultAzureCredential, e.g. after `az login`).
"""

import logging
import os
import uuid

import pytest

ACCOUNT_URL = os.environ.get("AZUREML_STORAGE_LIVE_ACCOUNT_URL")
CONTAINER = os.environ.get("AZUREML_STORAGE_LIVE_CONTAINER")

pytestmark = pytest.mark.skipif(
    not (ACCOUNT_URL and CONTAINER),
    reason="no live storage account: set AZUREML_STORAGE_LIVE_ACCOUNT_URL and "
    "AZUREML_STORAGE_LIVE_CONTAINER (plus a credential) to run",
)


@pytest.mark.timeout(120)
def test_round_trip_on_a_real_account(tmp_path):
    from snakemake_storage_plugin_azureml import StorageProvider, StorageProviderSettings

    provider = StorageProvider(
        local_prefix=tmp_path / "local",
        logger=logging.getLogger("live"),
        settings=StorageProviderSettings(account_url=ACCOUNT_URL, container=CONTAINER),
    )
    query = f"azureml://datastores/live/paths/snakemake-plugin-test/{uuid.uuid4().hex}/f.txt"
    obj = provider.object(query)
    obj.local_path().parent.mkdir(parents=True)
    obj.local_path().write_bytes(b"live check")
    try:
        obj.store_object()
        assert obj.exists() and obj.size() == 10
        obj.local_path().unlink()
        obj.retrieve_object()
        assert obj.local_path().read_bytes() == b"live check"
    finally:
        obj.remove()
    assert not obj.exists()
