"""The plugin's public handle (run_storage): when a run has one, and the workspace handed over
by the aml executor's settings, without a service."""

from types import SimpleNamespace

import pytest

from snakemake_storage_plugin_azureml.provider import workspace_lookup
from snakemake_storage_plugin_azureml.run_registry import REGISTRY
from snakemake_storage_plugin_azureml.run_storage import RunStorage, use_executor_workspace
from snakemake_storage_plugin_azureml.settings import StorageProviderSettings
from snakemake_storage_plugin_azureml.workspace import WorkspaceRef

PREFIX = "azureml://datastores/workspaceblobstore/paths/run"


def workflow(default_storage: str | None, main_process: bool = True) -> SimpleNamespace:
    """What RunStorage.of reads of Snakemake's workflow object."""
    return SimpleNamespace(
        storage_settings=SimpleNamespace(
            default_storage_provider=default_storage, default_storage_prefix=PREFIX
        ),
        is_main_process=main_process,
        storage_registry=SimpleNamespace(default_storage_provider=object()),
    )


@pytest.mark.parametrize(
    ("default_storage", "main_process", "has_handle"),
    [
        ("azureml", True, True),  # the aml profile: stages, uploads, locates datastores
        ("azureml", False, False),  # a remote job: finds staged files on the datastore
        ("s3", True, False),  # another storage: its inputs must be there already
        (None, True, False),  # a local run
    ],
)
def test_only_an_azureml_default_storage_main_process_has_run_storage(
    default_storage, main_process, has_handle
):
    wf = workflow(default_storage, main_process)
    run = RunStorage.of(wf)
    assert (run is not None) == has_handle
    if run:
        assert run.provider is wf.storage_registry.default_storage_provider
        assert run.prefix == PREFIX


def test_datastores_are_looked_up_in_the_workspace_the_executor_settings_hand_over(
    monkeypatch,
):
    monkeypatch.setattr(REGISTRY, "executor_workspace", None)
    no_container = StorageProviderSettings()
    assert workspace_lookup(no_container, {}, object) is None  # no workspace named anywhere
    use_executor_workspace("sub", "rg", "ws", "http://127.0.0.1:9/")
    lookup = workspace_lookup(no_container, {"SNAKEMAKE_AML_WORKSPACE": "other"}, object)
    assert lookup.ref == WorkspaceRef("sub", "rg", "ws", "http://127.0.0.1:9")
    use_executor_workspace("sub", None, "ws", None)  # incomplete: the environment's counts
    env = {"SNAKEMAKE_AML_SUBSCRIPTION": "s", "SNAKEMAKE_AML_RESOURCE_GROUP": "g",
           "SNAKEMAKE_AML_WORKSPACE": "w"}  # fmt: skip
    assert workspace_lookup(no_container, env, object).ref == WorkspaceRef("s", "g", "w")
