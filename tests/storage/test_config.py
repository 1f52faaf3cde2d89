"""Pure pieces: query validation, datastore resolution, secrets handling, retry decisions."""

import subprocess
import sys

import pytest

from snakemake_storage_plugin_azureml import StorageProvider
from snakemake_storage_plugin_azureml.credentials import (
    account_name,
    find_secret,
    parse_connection_string,
    secret_values,
)
from snakemake_storage_plugin_azureml.datastores import (
    DatastoreConfigError,
    DatastoreTarget,
    SettingsResolver,
    parse_datastore_map,
)
from snakemake_storage_plugin_azureml.listing import BlobEntry, inventory_facts, mtime_of
from snakemake_storage_plugin_azureml.query import BlobLocation, parse_query, query_problem

GOOD = "azureml://datastores/workspaceblobstore/paths/genomics_data/{sample}_R1.fastq.gz"


def test_valid_query_with_wildcards():
    assert StorageProvider.is_valid_query(GOOD)
    loc = parse_query("azureml://datastores/ws_1/paths/a/b/c.txt")
    assert loc == BlobLocation("ws_1", "a/b/c.txt")
    assert loc.parent == "a/b" and loc.query == "azureml://datastores/ws_1/paths/a/b/c.txt"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("s3://bucket/key", "must start with azureml://"),
        ("azureml://datastores/ws/a.txt", "expected azureml://datastores/<datastore>/paths/<path>"),
        (
            "azureml://subscriptions/s/resourcegroups/r/workspaces/w/datastores/d/paths/x",
            "long workspace form",
        ),
        ("azureml://datastores/my-store/paths/x", "datastore name 'my-store'"),
        ("azureml://datastores/{ds}/paths/x", "wildcards are not allowed in the datastore"),
        ("azureml://datastores/ws/paths/", "empty"),
        ("azureml://datastores/ws/paths/a//b", "empty segment"),
        ("azureml://datastores/ws/paths/a/", "empty segment"),
        ("azureml://datastores/ws/paths/a/../b", "'..'"),
    ],
)
def test_invalid_queries_say_why(query, reason):
    result = StorageProvider.is_valid_query(query)
    assert not result
    assert reason in result.reason
    assert reason in query_problem(query)


def test_datastore_map_parsing():
    assert parse_datastore_map("a=https://x.blob.core.windows.net/c1, b=c2\nc=c3") == {
        "a": "https://x.blob.core.windows.net/c1",
        "b": "c2",
        "c": "c3",
    }
    with pytest.raises(DatastoreConfigError, match="NAME=URL"):
        parse_datastore_map("justaname")
    with pytest.raises(DatastoreConfigError, match="twice"):
        parse_datastore_map("a=c1 a=c2")


def resolver(**kwargs) -> SettingsResolver:
    return SettingsResolver(default_credential=lambda: "default-credential", **kwargs)


def test_resolution_order_and_credentials():
    env = {
        "SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_KEY": "Z2xvYmFsLWtleQ==",
        "SNAKEMAKE_STORAGE_AZUREML_RESULTS_SAS_TOKEN": "?sv=1&sig=abc",
    }
    custom = lambda name: DatastoreTarget("https://ws.blob.core.windows.net", f"c-{name}")  # noqa: E731
    r = resolver(
        account_url="https://main.blob.core.windows.net/",
        container="main",
        datastore="workspaceblobstore",
        datastores={"results": "https://other.blob.core.windows.net/out"},
        custom=custom,
        environ=env,
    )
    main = r("workspaceblobstore")
    assert (main.account_url, main.container) == ("https://main.blob.core.windows.net", "main")
    assert main.auth == "account key from $SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_KEY"
    assert main.credential.named_key == ("main", "Z2xvYmFsLWtleQ==")
    results = r("results")
    assert (results.account_url, results.container) == (
        "https://other.blob.core.windows.net",
        "out",
    )
    assert results.credential.signature == "sv=1&sig=abc"
    looked_up = r("raw")
    assert looked_up.container == "c-raw"
    assert looked_up.credential.named_key == ("ws", "Z2xvYmFsLWtleQ==")

    default = resolver(account_url="https://a.blob.core.windows.net", container="ccc")("any")
    assert (default.credential, default.auth) == ("default-credential", "DefaultAzureCredential")


def test_unconfigured_and_bad_settings_are_clear():
    with pytest.raises(DatastoreConfigError, match="datastore 'x' is not configured"):
        resolver(account_url="https://a.blob.core.windows.net", container="ccc", datastore="y")("x")
    with pytest.raises(DatastoreConfigError, match="no storage account"):
        resolver(container="ccc")("x")
    with pytest.raises(DatastoreConfigError, match="container name 'Bad_Name'"):
        resolver(account_url="https://a.blob.core.windows.net", container="Bad_Name")
    with pytest.raises(DatastoreConfigError, match="SAS tokens belong in") as info:
        resolver(datastores={"a": "https://a.blob.core.windows.net/c1?sig=SECRET"})
    assert "SECRET" not in str(info.value)


def test_connection_strings():
    azurite = parse_connection_string(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    )
    assert azurite.account_url == "http://127.0.0.1:10000/devstoreaccount1"
    assert azurite.account_key == "a2V5"
    cloud = parse_connection_string("AccountName=acct;SharedAccessSignature=sv=1&sig=x")
    assert cloud.account_url == "https://acct.blob.core.windows.net"
    assert cloud.sas_token == "sv=1&sig=x"
    assert "a2V5" not in repr(azurite)
    assert account_name("http://127.0.0.1:10000/devstoreaccount1") == "devstoreaccount1"
    assert account_name("https://acct.blob.core.windows.net") == "acct"


def test_connection_string_for_another_account_is_rejected():
    env = {"SNAKEMAKE_STORAGE_AZUREML_CONNECTION_STRING": "AccountName=one;AccountKey=a2V5"}
    r = resolver(account_url="https://two.blob.core.windows.net", container="ccc", environ=env)
    with pytest.raises(DatastoreConfigError, match="is for https://one.blob") as info:
        r("ws")
    assert "a2V5" not in str(info.value)


def test_secret_lookup_prefers_the_datastore_and_collects_values_to_scrub():
    env = {
        "SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_KEY": "globalkey",
        "SNAKEMAKE_STORAGE_AZUREML_RAW_CONNECTION_STRING": "AccountName=a;AccountKey=rawkey",
        "SNAKEMAKE_STORAGE_AZUREML_CONTAINER": "not-a-secret",
    }
    assert find_secret("raw", env).variable == "SNAKEMAKE_STORAGE_AZUREML_RAW_CONNECTION_STRING"
    assert find_secret("other", env).kind == "ACCOUNT_KEY"
    values = secret_values(env)
    assert "globalkey" in values and "rawkey" in values and "not-a-secret" not in values


def test_redaction():
    from snakemake_storage_plugin_azureml.errors import Redactor

    redact = Redactor(["supersecretkey"])
    text = redact("url /c/b?sv=2025&sig=abcdef%3D&se=2030 key supersecretkey AccountKey=xyz;")
    assert "abcdef" not in text and "supersecretkey" not in text and "xyz" not in text


def test_inventory_facts_cover_nested_folders():
    entries = [BlobEntry("p/a.txt", 1, 10.0), BlobEntry("p/s/b.txt", 2, 30.5)]
    files, folders = inventory_facts(entries, "p")
    assert set(files) == {"p/a.txt", "p/s/b.txt"}
    assert folders == {"p": 30.5, "p/s": 30.5}
    _, root = inventory_facts(entries, "")
    assert root == {"": 30.5, "p": 30.5, "p/s": 30.5}


def test_mtime_prefers_recorded_subsecond_value():
    from datetime import UTC, datetime

    modified = datetime(2026, 1, 1, tzinfo=UTC)
    assert mtime_of({"snakemake_mtime": "1700000000.125"}, modified) == 1700000000.125
    assert mtime_of({}, modified) == modified.timestamp()


def test_retry_decisions():
    from snakemake_storage_plugin_azureml.retry import backoff, is_transient_status

    assert all(is_transient_status(s) for s in (408, 429, 500, 502, 503, 504))
    assert not any(is_transient_status(s) for s in (400, 401, 403, 404, 409, 412, 501))
    assert backoff(0, 1.0, 30.0, retry_after=7) == 7
    assert 0 < backoff(10, 1.0, 30.0) <= 36


def test_plugin_import_is_light():
    code = (
        "import sys, snakemake_storage_plugin_azureml;"
        "print(sorted(m for m in sys.modules if m.startswith('azure')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def workspace_lookup(name: str) -> DatastoreTarget:
    """Stands in for the executor's lookup of a datastore in the Azure ML workspace."""
    return DatastoreTarget(f"https://{name}acct.blob.core.windows.net", "azureml-blobstore-1")


def test_custom_resolver_from_settings(tmp_path, monkeypatch):
    from snakemake_interface_common.exceptions import WorkflowError

    from snakemake_storage_plugin_azureml import StorageProviderSettings

    monkeypatch.setenv("SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_KEY", "a2V5")
    provider = StorageProvider(
        local_prefix=tmp_path,
        logger=None,
        settings=StorageProviderSettings(
            datastore_resolver="tests.storage.test_config:workspace_lookup"
        ),
    )
    target = provider.resolver("workspaceblobstore")
    assert target.container_url == (
        "https://workspaceblobstoreacct.blob.core.windows.net/azureml-blobstore-1"
    )
    assert target.auth == "account key from $SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_KEY"
    with pytest.raises(WorkflowError, match="is not 'package.module:function'"):
        StorageProvider(
            local_prefix=tmp_path,
            logger=None,
            settings=StorageProviderSettings(datastore_resolver="no_colon"),
        )
    broken = StorageProvider(
        local_prefix=tmp_path,
        logger=None,
        settings=StorageProviderSettings(datastore_resolver="no_such_module:f"),
    )
    with pytest.raises(WorkflowError, match="cannot load datastore resolver 'no_such_module:f'"):
        broken.datastore("x")


def test_in_a_job_access_denied_names_the_cluster_identity_prerequisite(monkeypatch):
    from azure.core.exceptions import HttpResponseError

    from snakemake_storage_plugin_azureml.errors import Redactor, describe

    monkeypatch.setenv("AZUREML_RUN_ID", "job-1")  # set by Azure ML in every job
    target = resolver(account_url="https://a.blob.core.windows.net", container="ccc")("any")
    denied = HttpResponseError(message="This request is not authorized to perform this operation")
    denied.status_code, denied.error_code = 403, "AuthorizationPermissionMismatch"
    message = describe(denied, "cannot write x", "any", target, Redactor())
    assert "HTTP 403" in message and "managed identity" in message
    assert "'Storage Blob Data Contributor' role on the datastore's storage account" in message
