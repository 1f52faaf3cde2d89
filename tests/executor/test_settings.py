"""Settings: flags, environment variables and validation before anything is submitted."""

from pathlib import Path

import configargparse
import pytest
import yaml
from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.registry import ExecutorPluginRegistry

from aml_bridge.model.names import experiment_name
from aml_bridge.model.settings import (
    ExecutorSettings,
    cluster_names,
    common_settings,
    datastore_warning,
    validate,
)

SUB = "0b5e3d6a-1c2f-4e8a-9a7b-2d4c6e8f0a1b"


def parse(argv, monkeypatch=None, env=None):
    plugin = ExecutorPluginRegistry().get_plugin("aml")
    parser = configargparse.ArgumentParser()
    plugin.register_cli_args(parser, "executor")
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    return plugin.get_settings(parser.parse_args(argv))


def test_flags_become_settings():
    s = parse(
        [
            "--aml-subscription", SUB, "--aml-resource-group", "rg", "--aml-workspace", "ws",
            "--aml-compute", "serverless",
            "--aml-instance-types", "small:2:4096", "big:16:131072",
            "--aml-tags", "project=genomics", "owner=lab",
            "--aml-low-priority", "--aml-status-interval", "5", "--aml-spec-dir", "specs",
            "--aml-share-prefix",
        ]
    )  # fmt: skip
    assert (s.subscription, s.resource_group, s.workspace) == (SUB, "rg", "ws")
    assert s.instance_types == ["small:2:4096", "big:16:131072"]
    assert s.tags == ["project=genomics", "owner=lab"]
    assert s.low_priority and s.status_interval == 5 and s.spec_dir == Path("specs")
    assert s.compute == "serverless" and s.datastore == "workspaceblobstore"
    assert s.share_prefix and not parse([]).share_prefix
    assert cluster_names(s) == []
    validate(s)


def test_clusters_flag_and_default():
    s = parse(["--aml-clusters", "genomics-cluster", "qc-cluster"])
    assert cluster_names(s) == ["genomics-cluster", "qc-cluster"]
    assert cluster_names(parse([])) == ["genomics-cluster"]
    assert cluster_names(parse(["--aml-compute", "big"])) == ["big"]
    # serverless on the command line wins over the clusters a profile lists
    assert cluster_names(ExecutorSettings(compute="serverless", clusters=["a-cluster"])) == []


def test_environment_variables_become_settings(monkeypatch):
    env = {
        "SNAKEMAKE_AML_WORKSPACE": "from-env",
        "SNAKEMAKE_AML_COMPUTE": "gpu-cluster",
        "SNAKEMAKE_AML_SHARE_PREFIX": "true",
    }
    s = parse([], monkeypatch, env)
    assert s.workspace == "from-env" and s.compute == "gpu-cluster" and s.share_prefix


def test_cloud_shape():
    assert common_settings.non_local_exec and common_settings.implies_no_shared_fs
    assert common_settings.job_deploy_sources
    assert not common_settings.pass_envvar_declarations_to_cmd


def test_missing_workspace_settings_are_named_together():
    with pytest.raises(WorkflowError) as e:
        validate(ExecutorSettings())
    for flag in ("--aml-subscription", "--aml-resource-group", "--aml-workspace"):
        assert flag in str(e.value)


def test_spec_dir_needs_no_workspace():
    validate(ExecutorSettings(spec_dir=Path("specs")))


@pytest.mark.parametrize(
    "change, words",
    [
        ({"subscription": "not-a-guid"}, "GUID"),
        ({"workspace": "-ws"}, "--aml-workspace '-ws'"),
        ({"compute": "9cluster"}, "cluster '9cluster' is not a valid compute name"),
        ({"clusters": ["a-cluster", "a-cluster"]}, "names a cluster twice"),
        ({"compute": "c-one", "clusters": ["c-two"]}, "list them all in --aml-clusters"),
        ({"low_priority": True}, "priority is the cluster's tier"),
        ({"instance_types": ["small:2:4096"]}, "--aml-instance-types applies to serverless"),
        ({"instance_type": "Standard_D2s_v3"}, "--aml-instance-type applies to serverless"),
        ({"tags": [f"k{i}=v" for i in range(45)]}, "at most 44 of yours"),
        ({"tags": ["k=" + "v" * 1001]}, "at most 100 and values 1000"),
        ({"environment": "bwa:5"}, "azureml:NAME:VERSION"),
        ({"tags": ["novalue"]}, "KEY=VALUE"),
        ({"compute": "serverless", "instance_types": ["s:two:4096"]}, "NAME:CORES:MEM_MB"),
        ({"status_interval": 0}, "--aml-status-interval"),
        ({"submit_concurrency": 0}, "--aml-submit-concurrency"),
        ({"endpoint": "http://127.0.0.1:1234"}, "https://"),
        ({"run_id": "Has Space"}, "--aml-run-id"),
    ],
)
def test_invalid_values_are_rejected_with_their_flag(change, words):
    base = {"subscription": SUB, "resource_group": "rg", "workspace": "ws"}
    with pytest.raises(WorkflowError, match="Invalid aml executor settings") as e:
        validate(ExecutorSettings(**{**base, **change}))
    assert words in str(e.value)


def test_user_tags_leave_room_for_the_bridges_own_on_every_job_type():
    """A group's pipeline job carries one tag more than a command job (snakemake_group): with
    45 user tags it would carry 51, past Azure ML's 50, so 45 are refused at start."""
    base = {"subscription": SUB, "resource_group": "rg", "workspace": "ws"}
    with pytest.raises(WorkflowError, match="a group's pipeline job carries 6") as e:
        validate(ExecutorSettings(**base, tags=[f"k{i}=v" for i in range(45)]))
    assert "a command job carries 5" in str(e.value)
    validate(ExecutorSettings(**base, tags=[f"k{i}=v" for i in range(44)]))


def test_local_service_subscription_need_not_be_a_guid():
    validate(
        ExecutorSettings(
            subscription="local", resource_group="rg", workspace="ws",
            endpoint="https://127.0.0.1:8443",
        )
    )  # fmt: skip


def test_prefix_on_another_datastore_is_pointed_out():
    s = ExecutorSettings(datastore="genomics")
    assert datastore_warning(s, "azureml", "azureml://datastores/genomics/paths/out") is None
    assert "not on datastore genomics" in datastore_warning(
        s, "azureml", "azureml://datastores/workspaceblobstore/paths/out"
    )
    assert datastore_warning(s, "s3", "s3://bucket") is None


def test_experiment_defaults_to_a_valid_name_from_the_folder():
    assert experiment_name("my workflow (v2)") == "my_workflow__v2_"
    assert experiment_name("main") == "main"
    assert experiment_name("...") == "snakemake"


def test_aml_profile_shares_no_key_with_the_workflow_profile():
    """Snakemake applies profiles/default on top of --profile aml, key by key: a key in both
    would silently replace the aml value."""
    root = Path(__file__).resolve().parents[2] / "workflow_profiles"
    default = yaml.safe_load((root / "default" / "config.yaml").read_text())
    aml = yaml.safe_load((root / "aml" / "config.yaml").read_text())
    assert not set(default) & set(aml)
