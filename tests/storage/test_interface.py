"""Snakemake's own storage-plugin test suite, for files and for directories, against Azurite."""

import uuid

import pytest
from snakemake_interface_storage_plugins.tests import TestStorageBase

from snakemake_storage_plugin_azureml import StorageProvider, StorageProviderSettings


class TestAzuremlStorage(TestStorageBase):
    __test__ = True
    retrieve_only = False
    store_only = False
    delete = True
    touch = True
    files_only = False

    @pytest.fixture(autouse=True)
    def _azurite_datastore(self, azurite, storage_container, storage_key_env):
        self.settings = StorageProviderSettings(
            account_url=azurite.blob_endpoint, container=storage_container
        )
        self.prefix = f"azureml://datastores/workspaceblobstore/paths/suite/{uuid.uuid4().hex}"

    def get_storage_provider_cls(self):
        return StorageProvider

    def get_storage_provider_settings(self):
        return self.settings

    def get_query(self, tmp_path) -> str:
        return f"{self.prefix}/object"

    def get_query_not_existing(self, tmp_path) -> str:
        return f"{self.prefix}/missing/object"
