"""Plugin settings: where datastores live (never secrets; those are read from the environment).

Each field is a `--storage-azureml-<field>` flag, a `SNAKEMAKE_STORAGE_AZUREML_<FIELD>` variable
and a profile key `storage-azureml-<field>`. No `from __future__ import annotations` here:
Snakemake reads the field types at runtime to parse values.
"""

from dataclasses import dataclass, field

from snakemake_interface_storage_plugins.settings import StorageProviderSettingsBase

GIB = 1024**3


def _setting(help_text: str, default=None):
    return field(default=default, metadata={"help": help_text, "env_var": True, "required": False})


@dataclass
class StorageProviderSettings(StorageProviderSettingsBase):
    account_url: str | None = _setting(
        "Blob endpoint of the storage account behind the datastore, e.g. "
        "https://<account>.blob.core.windows.net (may be omitted when a connection string "
        "is given in SNAKEMAKE_STORAGE_AZUREML_CONNECTION_STRING)."
    )
    container: str | None = _setting("Blob container of the datastore.")
    datastore: str | None = _setting(
        "Name of the datastore that account-url/container describe; unset: they serve every "
        "datastore name not listed in --storage-azureml-datastores."
    )
    datastores: str | None = _setting(
        "Several datastores, as 'NAME=https://<account>.blob.core.windows.net/<container>' or "
        "'NAME=<container>' (in the account of --storage-azureml-account-url), separated by "
        "commas in ONE argument (separate arguments would keep only the last). URLs must not "
        "carry a SAS token."
    )
    datastore_resolver: str | None = _setting(
        "'package.module:function' called as function(datastore_name) -> DatastoreTarget "
        "for datastores not configured here (e.g. a lookup in the Azure ML workspace)."
    )
    max_concurrency: int = field(
        default=8,
        metadata={
            "help": "Parallel connections per transfer (blocks of a big blob, files of a folder).",
            "env_var": True,
            "required": False,
        },
    )
    node_cache: str | None = _setting(
        "Folder of the node-local input cache where Azure Batch's AZ_BATCH_NODE_SHARED_DIR is "
        "not set (there, <that dir>/snakemake-azureml-cache is used). Unset: no cache."
    )
    node_cache_max_bytes: int = field(
        default=20 * GIB,
        metadata={
            "help": "Size cap of the node cache; least recently used entries go beyond it "
            "(0: no cache).",
            "env_var": True,
            "required": False,
        },
    )
    node_cache_min_bytes: int = field(
        default=64 * 1024**2,
        metadata={
            "help": "Inputs smaller than this are downloaded per job, not cached.",
            "env_var": True,
            "required": False,
        },
    )
