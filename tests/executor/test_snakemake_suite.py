"""Snakemake's own executor test suite (simple and group workflows) against the local service."""

import pytest
from snakemake.common.tests import TestWorkflowsBase
from snakemake_interface_common.plugin_registry.plugin import TaggedSettings

from aml_bridge.model.settings import ExecutorSettings
from snakemake_storage_plugin_azureml import StorageProviderSettings


class TestWorkflows(TestWorkflowsBase):
    __test__ = True

    @pytest.fixture(autouse=True)
    def _service(self, aml_run):
        self.run = aml_run

    def get_executor(self) -> str:
        return "aml"

    def get_executor_settings(self) -> ExecutorSettings:
        s = self.run.service
        return ExecutorSettings(
            subscription=s.subscription_id,
            resource_group=s.resource_group,
            workspace=s.workspace,
            endpoint=s.base_url,
            status_interval=1,
        )

    def get_assume_shared_fs(self) -> bool:
        return False

    def get_default_storage_provider(self) -> str:
        return "azureml"

    def get_default_storage_prefix(self) -> str:
        return self.run.prefix

    def get_default_storage_provider_settings(self) -> dict[str, TaggedSettings]:
        tagged = TaggedSettings()
        tagged.register_settings(
            StorageProviderSettings(account_url=self.run.account_url, container=self.run.container)
        )
        return {"azureml": tagged}
