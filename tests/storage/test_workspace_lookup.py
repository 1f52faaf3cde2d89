"""Datastore properties from the workspace → where the plugin reads and writes."""

import pytest

from snakemake_storage_plugin_azureml.datastores import DatastoreConfigError
from snakemake_storage_plugin_azureml.workspace import ARM, WorkspaceRef, blob_location


def test_account_url_built_as_the_sdk_builds_it():
    props = {"datastoreType": "AzureBlob", "accountName": "acct", "containerName": "c1",
             "endpoint": "core.windows.net", "protocol": "https"}  # fmt: skip
    target = blob_location("ws", props)
    assert (target.account_url, target.container) == ("https://acct.blob.core.windows.net", "c1")
    # a fragment in the built URL (how a stand-in points the SDK elsewhere) is never sent
    proxied = {**props, "accountName": "127.0.0.1:8443/_blob/devstoreaccount1#"}
    assert (
        blob_location("ws", proxied).account_url == "https://127.0.0.1:8443/_blob/devstoreaccount1"
    )


def test_file_share_datastore_is_refused_by_name():
    with pytest.raises(DatastoreConfigError, match="'files' is of type AzureFile"):
        blob_location("files", {"datastoreType": "AzureFile", "accountName": "a"})


def test_workspace_from_the_executor_settings_only_when_complete():
    env = {"SNAKEMAKE_AML_SUBSCRIPTION": "s", "SNAKEMAKE_AML_RESOURCE_GROUP": "rg"}
    assert WorkspaceRef.from_environ(env) is None
    ref = WorkspaceRef.from_environ({**env, "SNAKEMAKE_AML_WORKSPACE": "ws"})
    assert ref.endpoint == ARM and ref.scope == f"{ARM}/.default"
    assert ref.url("datastores/x").startswith(f"{ARM}/subscriptions/s/resourceGroups/rg/")
