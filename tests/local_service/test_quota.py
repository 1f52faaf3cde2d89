"""vCPU quota: the usages listing as the SDK reads it, a job that can never fit failing as Azure
ML fails it, and one that fits the limit but not what is free waiting in Queued."""

from __future__ import annotations

import uuid

from tests.local_service.helpers import ensure_environment, run_error, shell_job, wait_for

TOTAL_LOW = "Total Cluster LowPriority Regional vCPUs"
DSV3_LOW = "Standard DSv3 Family Cluster LowPriority vCPUs"


def _usages(ml) -> dict[str, tuple[int, int]]:
    """azure-ai-ml 1.35 copies the REST names onto Usage (currentValue; current_value None)."""
    return {u.name["value"]: (u.currentValue, u.limit) for u in ml.compute.list_usage()}


def test_usages_count_held_nodes_and_a_job_beyond_the_limit_fails(fresh_aml_service):
    service = fresh_aml_service()
    ml = service.ml_client()
    usages = _usages(ml)
    assert usages[TOTAL_LOW] == (0, 1000) and usages[DSV3_LOW] == (0, -1)
    # the default cluster: low priority, Standard_D8s_v3 (8 vCPUs); 4 vCPUs allowed
    service.set_quota("LowPriority", "total", 4)
    env = ensure_environment(ml)
    name = f"big-{uuid.uuid4().hex[:8]}"
    ml.jobs.create_or_update(shell_job(name, "true", env))
    assert wait_for(ml, name).status == "Failed"
    error = run_error(ml, name)["error"]
    assert error["code"] == "JobNodeCountExceedsCoreQuota"
    assert "total LowPriority vCPU quota of 4" in error["message"]
    assert "maps to 8 vCPUs" in error["message"]


def test_a_job_waits_queued_while_the_quota_is_used_by_another(fresh_aml_service):
    service = fresh_aml_service()
    ml = service.ml_client()
    service.set_quota("LowPriority", "total", 8)  # one node of the default cluster
    env = ensure_environment(ml)
    first, second = (f"{p}-{uuid.uuid4().hex[:8]}" for p in ("first", "second"))
    ml.jobs.create_or_update(shell_job(first, "sleep 4", env))
    wait_for(ml, first, {"Running"})
    ml.jobs.create_or_update(shell_job(second, "true", env))
    assert _usages(ml)[TOTAL_LOW] == (8, 8)
    assert wait_for(ml, second, {"Queued"}).status == "Queued"
    assert ml.jobs.get(first).status == "Running"  # second waits for first's node
    assert wait_for(ml, first).status == "Completed"
    assert wait_for(ml, second).status == "Completed"
