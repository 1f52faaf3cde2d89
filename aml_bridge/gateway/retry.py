"""Retrying control-plane calls: 429 (honouring Retry-After), 5xx and dropped connections.

Everything else (401, 403, 404, a rejected spec) fails at once: retrying would only hide it.
Which statuses are transient, how Retry-After is read and how long to back off are the storage
plugin's definitions (one retry vocabulary for the whole project; that package is the one
shipped to remote jobs on its own, so the definitions live there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from snakemake_storage_plugin_azureml.retry import (
    backoff,
    is_transient_status,
    retry_after_seconds,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    base_s: float = 1.0
    cap_s: float = 60.0
    attempts: int = 10

    def delay(self, attempt: int, retry_after: float | None) -> float:
        return backoff(attempt, self.base_s, self.cap_s, retry_after)


def quota_backoff(first_wait_s: float) -> Backoff:
    """Waits before a job refused for vCPU quota is sent again: from `first_wait_s`, doubling
    up to 10 minutes, 12 tries (about an hour and a half at the default 60 s)."""
    return Backoff(base_s=first_wait_s, cap_s=max(600.0, first_wait_s), attempts=12)


def transient(error: BaseException) -> tuple[bool, float | None]:
    """(worth retrying, seconds the server asked to wait)."""
    if isinstance(
        error, ServiceRequestError | ServiceResponseError | ConnectionError | TimeoutError
    ):
        return True, None
    status = getattr(error, "status_code", None)
    if isinstance(error, HttpResponseError) and status is not None and is_transient_status(status):
        response = getattr(error, "response", None)
        return True, retry_after_seconds(getattr(response, "headers", None))
    return False, None


def refused(error: BaseException) -> bool:
    """A 4xx other than 408/429: the service understood and said no (retrying will not help)."""
    status = getattr(error, "status_code", None)
    return (
        isinstance(error, HttpResponseError)
        and status is not None
        and 400 <= status < 500
        and not is_transient_status(status)
    )


def call_with_retries(
    call: Callable[[], T],
    backoff: Backoff = Backoff(),
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> T:
    """call() until it succeeds, a non-transient error occurs or the attempts are used up."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as error:
            retry, retry_after = transient(error)
            attempt += 1
            if not retry or attempt >= backoff.attempts:
                raise
            wait = backoff.delay(attempt - 1, retry_after)
            if on_retry:
                on_retry(error, wait)
            sleep(wait)
