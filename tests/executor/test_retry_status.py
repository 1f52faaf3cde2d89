"""Retry policy, status mapping and the adaptive status interval."""

import email.utils
import time

import pytest
from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.core.pipeline.transport import HttpResponse

from aml_bridge.gateway.retry import Backoff, call_with_retries, refused, transient
from aml_bridge.gateway.status import (
    LOST,
    MEANING,
    Outcome,
    canceled_by_time_limit,
    is_terminal,
    next_interval,
    outcome,
    restarted,
)
from snakemake_storage_plugin_azureml.retry import retry_after_seconds


class Response(HttpResponse):
    """An azure-core response as the transport would hand it over."""

    def __init__(self, status: int, headers: dict[str, str]):
        super().__init__(request=None, internal_response=None)
        self.status_code = status
        self.headers = headers
        self.reason = "test"

    def body(self) -> bytes:
        return b""


def http_error(status: int, **headers) -> HttpResponseError:
    return HttpResponseError(response=Response(status, headers))


def test_throttling_honours_retry_after():
    assert transient(http_error(429, **{"Retry-After": "7"})) == (True, 7.0)
    assert transient(http_error(503)) == (True, None)
    assert transient(ServiceRequestError("connection reset")) == (True, None)
    assert transient(http_error(400)) == (False, None)
    assert transient(ResourceNotFoundError("gone")) == (False, None)


def test_retry_after_forms():
    assert retry_after_seconds({"x-ms-retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    later = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert 100 < retry_after_seconds({"Retry-After": later}) <= 120
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_refused_means_a_4xx_retrying_cannot_fix():
    assert refused(http_error(403)) and refused(http_error(400)) and refused(http_error(404))
    assert not any(refused(http_error(s)) for s in (408, 429, 500, 503))
    assert not refused(ServiceRequestError("connection reset"))


def test_backoff_grows_to_its_cap_and_follows_the_server():
    b = Backoff(base_s=1, cap_s=10)
    assert 0.5 <= b.delay(0, None) <= 1
    assert 2 <= b.delay(2, None) <= 4
    assert 5 <= b.delay(10, None) <= 10
    assert b.delay(0, 30.0) == 30.0 and b.delay(5, 0.2) == 0.2


def test_call_with_retries_recovers_from_a_429_storm():
    answers = [http_error(429, **{"Retry-After": "2"})] * 3 + ["done"]
    waits = []

    def call():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert call_with_retries(call, Backoff(base_s=0.01), sleep=waits.append) == "done"
    assert waits == [2.0, 2.0, 2.0]


def test_call_with_retries_gives_up_and_never_retries_client_errors():
    calls = []

    def failing(error):
        def call():
            calls.append(1)
            raise error

        return call

    with pytest.raises(HttpResponseError):
        call_with_retries(failing(http_error(503)), Backoff(attempts=3), sleep=lambda _: None)
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(HttpResponseError):
        call_with_retries(failing(http_error(403)), Backoff(attempts=3), sleep=lambda _: None)
    assert len(calls) == 1


# What each Azure ML job status means to the executor (REST JobStatus: every value).
EXPECTED = {
    "NotStarted": Outcome.ACTIVE,
    "Starting": Outcome.ACTIVE,
    "Provisioning": Outcome.ACTIVE,
    "Preparing": Outcome.ACTIVE,
    "Queued": Outcome.ACTIVE,
    "Running": Outcome.ACTIVE,
    "Finalizing": Outcome.ACTIVE,
    "CancelRequested": Outcome.ACTIVE,
    "Completed": Outcome.SUCCEEDED,
    "Failed": Outcome.FAILED,
    "Canceled": Outcome.CANCELED,
    "NotResponding": Outcome.STALLED,
    "Paused": Outcome.STALLED,
    "Unknown": Outcome.ACTIVE,
}


def _rest_job_statuses() -> list[str]:
    from azure.ai.ml._restclient.arm_ml_service.models import JobStatus

    return [status.value for status in JobStatus]


@pytest.mark.parametrize("status", _rest_job_statuses())
def test_every_azure_ml_job_status_has_a_meaning(status):
    assert status in MEANING, f"{status} has no meaning in aml_bridge.gateway.status.MEANING"
    assert outcome(status) is EXPECTED[status]


def test_statuses_outside_azure_ml_enum():
    assert set(MEANING) == {*_rest_job_statuses(), LOST}
    assert outcome(LOST) is Outcome.FAILED
    assert outcome("SomethingNew") is Outcome.ACTIVE


def test_only_a_job_that_ran_to_its_end_is_terminal():
    """A stalled job (NotResponding, Paused) may resume: waiting on it stays waiting."""
    ended = {"Completed", "Failed", "Canceled", LOST}
    assert {s for s in MEANING if is_terminal(s)} == ended
    assert not is_terminal("SomethingNew")


def test_a_job_seen_running_then_waiting_was_restarted():
    assert restarted("Running", "Queued") and restarted("Finalizing", "Preparing")
    assert not restarted(None, "Queued") and not restarted("Queued", "Running")
    assert not restarted("Running", "Running") and not restarted("Preparing", "Queued")


def test_canceled_by_time_limit_from_the_message_or_the_time_it_ran():
    assert canceled_by_time_limit("The job exceeded its time limit", 3.0, 60)
    assert canceled_by_time_limit("Run timed out", None, 60)
    assert canceled_by_time_limit(None, 60.4, 60)
    assert not canceled_by_time_limit("Canceled by user", 12.0, 60)
    assert not canceled_by_time_limit("The job exceeded its time limit", 60.0, None)


def test_interval_backs_off_when_idle_and_resets_on_change():
    idle = 10.0
    for _ in range(20):
        idle = next_interval(idle, 10, changed=False, server_wait=None)
    assert idle == 80
    assert next_interval(idle, 10, changed=True, server_wait=None) == 10
    assert next_interval(10, 10, changed=True, server_wait=45.0) == 45
