"""Several clusters, each with its VM size, node limit and tier; the region's VM sizes; and
environment image builds (Preparing once per version, build errors) — through the real SDK."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from tests.fixtures.aml_service import AmlService, client_environment
from tests.local_service.helpers import ensure_environment, shell_job, wait_for

QC = "qc-cluster"


@pytest.fixture(scope="module")
def _clusters_session(aml_azurite, tmp_path_factory) -> Iterator[AmlService]:
    """genomics-cluster (default: 2 nodes, low priority) and qc-cluster (1 node, dedicated);
    environment builds take 1 s."""
    service = AmlService(
        aml_azurite, tmp_path_factory.mktemp("clusters") / "state", max_nodes=2,
        clusters=[f"{QC}:Standard_D2s_v3:1"], environment_build_s=1.0,
        blob_container="clusters-blobs", artifact_container="clusters-artifacts",
    )  # fmt: skip
    with service.running():
        yield service


@pytest.fixture
def service(_clusters_session: AmlService, monkeypatch: pytest.MonkeyPatch) -> AmlService:
    client_environment(monkeypatch, _clusters_session)
    return _clusters_session


def test_clusters_and_vm_sizes_deserialize_in_the_sdk(service):
    from azure.core.exceptions import ResourceNotFoundError

    ml = service.ml_client()
    qc, default = ml.compute.get(QC), ml.compute.get("genomics-cluster")
    assert (qc.type, qc.size, qc.max_instances, qc.tier) == (
        "amlcompute", "STANDARD_D2S_V3", 1, "dedicated",
    )  # fmt: skip
    assert (default.size, default.max_instances, default.tier) == (
        "STANDARD_D8S_V3", 2, "low_priority",
    )  # fmt: skip
    assert qc.identity.type == "system_assigned"
    assert {c.name for c in ml.compute.list()} == {"genomics-cluster", QC}
    sizes = {s.name: s for s in ml.compute.list_sizes()}  # location: the workspace's
    assert sizes["Standard_D2s_v3"].vCPUs == 2 and sizes["Standard_D2s_v3"].memoryGB == 8.0
    with pytest.raises(ResourceNotFoundError, match="no-such-cluster"):
        ml.compute.get("no-such-cluster")


def test_each_cluster_runs_its_jobs_on_its_own_nodes(service):
    ml = service.ml_client()
    env = ensure_environment(ml)
    tag = uuid.uuid4().hex[:6]
    names = [f"qc-{tag}-{i}" for i in range(3)] + [f"big-{tag}-{i}" for i in range(2)]
    for name in names:
        compute = QC if name.startswith("qc-") else "genomics-cluster"
        ml.jobs.create_or_update(shell_job(name, "sleep 1.5", env, compute=compute))
    jobs = [wait_for(ml, name) for name in names]
    assert {j.status for j in jobs} == {"Completed"}
    clusters = service.stats()["clusters"]
    assert clusters[QC]["peak_nodes_in_use"] == 1  # three jobs, one node: one at a time
    assert clusters[QC]["max_nodes"] == 1 and clusters["genomics-cluster"]["max_nodes"] == 2
    # qc jobs queued behind each other did not hold the genomics jobs back
    assert clusters["genomics-cluster"]["peak_nodes_in_use"] == 2


def test_instance_count_above_the_named_cluster_is_rejected(service):
    from azure.core.exceptions import HttpResponseError

    ml = service.ml_client()
    job = shell_job(f"wide-{uuid.uuid4().hex[:6]}", "true", ensure_environment(ml), compute=QC)
    job.resources = {"instance_count": 2}
    with pytest.raises(HttpResponseError, match="'qc-cluster' has at most 1"):
        ml.jobs.create_or_update(job)


def _conda_environment(ml, conda: dict) -> str:
    from azure.ai.ml.entities import Environment

    name, version = "built", uuid.uuid4().hex[:8]
    image = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"
    ml.environments.create_or_update(
        Environment(name=name, version=version, image=image, conda_file=conda)
    )
    return f"azureml:{name}:{version}"


def test_a_new_environment_version_is_built_while_its_first_job_prepares(service):
    ml = service.ml_client()
    env = _conda_environment(ml, {"dependencies": ["python=3.11", "pip"]})
    name = f"first-{uuid.uuid4().hex[:6]}"
    ml.jobs.create_or_update(shell_job(name, "true", env))
    seen = set()
    while (status := ml.jobs.get(name).status) not in {"Completed", "Failed", "Canceled"}:
        seen.add(status)
        time.sleep(0.1)
    assert status == "Completed" and "Preparing" in seen


def test_a_job_canceled_while_preparing_never_runs(service, tmp_path):
    """Canceled during its image build: CancelRequested, then Canceled; never Running, and
    its command never starts (as on Azure ML, where a cancel request only ends a job)."""
    ml = service.ml_client()
    env = _conda_environment(ml, {"dependencies": ["python=3.11", "pip"]})
    name, marker = f"cancel-{uuid.uuid4().hex[:6]}", tmp_path / "ran"
    ml.jobs.create_or_update(shell_job(name, f"touch {marker}", env))
    wait_for(ml, name, {"Preparing"})
    ml.jobs.begin_cancel(name)
    seen = []
    while (status := ml.jobs.get(name).status) not in {"Completed", "Failed", "Canceled"}:
        seen.append(status)
        time.sleep(0.05)
    assert status == "Canceled"
    assert "Running" not in seen
    assert not marker.exists()


def test_a_conda_file_without_dependencies_fails_its_jobs_with_the_image_build_error(service):
    from tests.local_service.helpers import run_error

    ml = service.ml_client()
    env = _conda_environment(ml, {"name": "broken", "channels": ["conda-forge"]})
    names = [f"broken-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    for name in names:
        ml.jobs.create_or_update(shell_job(name, "true", env))
    for name in names:
        assert wait_for(ml, name).status == "Failed"
        error = run_error(ml, name)["error"]
        assert error["code"] == "UserError"
        built = env.removeprefix("azureml:")
        assert f"Image build failed for environment {built}" in error["message"]
        assert "lists no `dependencies`" in error["message"]
