"""What `aml-genomics setup` needs from the service, through the real SDK: clusters created and
updated with an identity (kept across a restart), and versioned data assets (`@latest`)."""

from __future__ import annotations

import pytest

from tests.local_service.helpers import ensure_environment, shell_job, wait_for


def aml_cluster(name: str, size: str = "Standard_D2s_v3", max_nodes: int = 2, **kw):
    from azure.ai.ml.entities import AmlCompute, IdentityConfiguration

    return AmlCompute(
        name=name, size=size, min_instances=0, max_instances=max_nodes,
        idle_time_before_scale_down=kw.pop("idle", 300), tier=kw.pop("tier", "dedicated"),
        identity=IdentityConfiguration(type=kw.pop("identity", "system_assigned")), **kw,
    )  # fmt: skip


def test_cluster_created_updated_and_kept_across_restart(fresh_aml_service):
    from azure.core.exceptions import HttpResponseError

    service = fresh_aml_service()
    ml = service.ml_client()
    made = ml.compute.begin_create_or_update(aml_cluster("small-cluster")).result()
    assert (made.size, made.max_instances, made.tier) == ("STANDARD_D2S_V3", 2, "dedicated")
    assert made.identity.type == "system_assigned" and made.idle_time_before_scale_down == 300
    # a job runs on it at once, with its identity
    env = ensure_environment(ml)
    job = ml.jobs.create_or_update(shell_job("on-small", "echo hi", env, compute="small-cluster"))
    assert wait_for(ml, job.name).status == "Completed"
    # update in place: more nodes, no identity
    ml.compute.begin_create_or_update(aml_cluster("small-cluster", max_nodes=3, identity="none"))
    service.restart()
    ml = service.ml_client()
    again = ml.compute.get("small-cluster")
    assert again.max_instances == 3 and again.identity.type == "none"
    # VM size is fixed at creation, as on Azure ML
    with pytest.raises(HttpResponseError, match="VM size .* cannot change"):
        ml.compute.begin_create_or_update(aml_cluster("small-cluster", "Standard_D8s_v3")).result()


def test_unknown_vm_size_and_bad_body_are_refused(aml_service):
    import requests
    from azure.core.exceptions import HttpResponseError

    ml = aml_service.ml_client()
    with pytest.raises(HttpResponseError, match="Standard_Z99. is not offered"):
        ml.compute.begin_create_or_update(aml_cluster("zz-cluster", "Standard_Z99")).result()
    token = aml_service.token()
    url = f"{aml_service.base_url}/subscriptions/{aml_service.subscription_id}/resourceGroups/"
    url += f"{aml_service.resource_group}/providers/Microsoft.MachineLearningServices/"
    url += f"workspaces/{aml_service.workspace}/computes/bad-cluster?api-version=2024-04-01"
    body = {"properties": {"properties": {"vmSize": "Standard_D2s_v3"}}}  # no computeType
    answer = requests.put(url, json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 400 and "computeType" in answer.json()["error"]["message"]


def test_data_asset_versions_and_latest(aml_service):
    from azure.ai.ml.entities import Data
    from azure.core.exceptions import ResourceNotFoundError

    ml = aml_service.ml_client()
    path = "azureml://datastores/workspaceblobstore/paths/ref/genome-{}.fa"
    for version in ("1", "2"):
        ml.data.create_or_update(
            Data(name="hg38t", version=version, type="uri_file", path=path.format(version))
        )
    assert ml.data.get("hg38t", version="1").path == path.format(1)
    assert ml.data.get("hg38t", label="latest").version == "2"
    assert "hg38t" in {d.name for d in ml.data.list()}
    with pytest.raises(ResourceNotFoundError):
        ml.data.get("no-such-asset", version="1")


def test_components_and_environments_listed_by_name_and_version(aml_service):
    import io

    import yaml
    from azure.ai.ml import load_component
    from azure.core.exceptions import HttpResponseError

    ml = aml_service.ml_client()
    env = ensure_environment(ml, "env-listed", "3")

    def component(version: str, command: str):
        spec = {"type": "command", "name": "listed_rule", "version": version,
                "environment": env, "command": command}  # fmt: skip
        return load_component(source=io.StringIO(yaml.safe_dump(spec)))

    ml.components.create_or_update(component("a1", "echo one"))
    ml.components.create_or_update(component("b2", "echo two"))
    assert {c.version for c in ml.components.list(name="listed_rule")} == {"a1", "b2"}
    assert "listed_rule" in {c.name for c in ml.components.list()}
    assert "env-listed" in {e.name for e in ml.environments.list()}
    assert ml.components.get("listed_rule", version="a1").command == "echo one"
    with pytest.raises(HttpResponseError, match="versions are immutable"):
        ml.components.create_or_update(component("a1", "echo changed"))
