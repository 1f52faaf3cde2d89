"""A job refused for vCPU quota is sent again after a wait, under a new name (pure)."""

import pytest

from aml_bridge.executor.quota_wait import QuotaWaits
from aml_bridge.gateway.retry import Backoff
from aml_bridge.model.specs.command import build_spec
from tests.executor.test_translate import RUN, facts

REFUSAL = (
    "Job submission to AzureML Compute encountered an Exception with status code "
    "JobNodeCountExceedsCoreQuota, The specified subscription has a Standard DSv3 Family "
    "Dedicated vCPU quota of 4 and is less than the requested job node count of 1 which maps "
    "to 8 vCPUs."
)


def test_refused_job_is_sent_again_with_the_reason_and_the_fix_until_the_tries_run_out():
    spec = build_spec(RUN, facts())
    waits = QuotaWaits(Backoff(base_s=10, cap_s=600, attempts=3), lambda name: REFUSAL)
    first = waits.after_failure(spec.name, "bwa_mem[sample=A]", spec)
    assert first.spec.name == f"{spec.name}-q1" and first.spec.command == spec.command
    assert 5 <= first.delay_s <= 10  # the retry policy's backoff, with its jitter
    assert "refused for vCPU quota" in first.line and "JobNodeCountExceedsCoreQuota" in first.line
    assert "request a quota increase" in first.line and f"as job {spec.name}-q1" in first.line
    assert "(try 2 of 3)" in first.line
    assert waits.note(spec.name) == f"refused for vCPU quota; sent again as {spec.name}-q1"
    second = waits.after_failure(first.spec.name, "bwa_mem[sample=A]", first.spec)
    assert second.spec.name == f"{spec.name}-q2" and 10 <= second.delay_s <= 20
    assert waits.after_failure(second.spec.name, "x", second.spec) is None  # fails as it is


def test_other_failures_are_not_retried_here():
    spec = build_spec(RUN, facts())
    waits = QuotaWaits(Backoff(), lambda name: "Execution failed: exit code 3")
    assert waits.after_failure(spec.name, "x", spec) is None


def test_a_stopped_run_sends_nothing_again():
    from concurrent.futures import CancelledError

    waits = QuotaWaits(Backoff(), lambda name: REFUSAL)
    waits.stop()
    with pytest.raises(CancelledError):
        waits.sleep(60)


def test_a_group_refused_for_quota_is_known_by_its_steps_error():
    from aml_bridge.model.specs.pipeline import build_pipeline_spec
    from tests.executor.test_pipeline_spec import GROUPED, group_facts, members

    spec = build_pipeline_spec(GROUPED, group_facts(), "bwa_mem", members(3))
    waits = QuotaWaits(
        Backoff(), lambda name: "Pipeline failed: node /members failed", lambda name: [REFUSAL]
    )
    wait = waits.after_failure(spec.name, "bwa_mem[3 jobs]", spec)
    assert wait.spec.name == f"{spec.name}-q1" and wait.spec.folder.endswith(f"/{spec.name}-q1/")
    assert "JobNodeCountExceedsCoreQuota" in wait.line
