"""Retry policy, status mapping and the adaptive status interval."""

import pytest
from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.core.pipeline.transport import HttpResponse

from aml_bridge.retry import Backoff, call_with_retries, retry_after_seconds, transient
from aml_bridge.status import LOST, Outcome, next_interval, outcome


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
    assert retry_after_seconds({}) is None


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


@pytest.mark.parametrize(
    "status, expected",
    [
        ("Completed", Outcome.SUCCEEDED),
        ("Failed", Outcome.FAILED),
        ("NotResponding", Outcome.FAILED),
        ("Canceled", Outcome.PREEMPTED),
        (LOST, Outcome.FAILED),
        ("Queued", Outcome.ACTIVE),
        ("Running", Outcome.ACTIVE),
        ("Finalizing", Outcome.ACTIVE),
        ("CancelRequested", Outcome.ACTIVE),
        ("SomethingNew", Outcome.ACTIVE),
    ],
)
def test_outcomes(status, expected):
    assert outcome(status) is expected


def test_interval_backs_off_when_idle_and_resets_on_change():
    idle = 10.0
    for _ in range(20):
        idle = next_interval(idle, 10, changed=False, server_wait=None)
    assert idle == 80
    assert next_interval(idle, 10, changed=True, server_wait=None) == 10
    assert next_interval(10, 10, changed=True, server_wait=45.0) == 45
