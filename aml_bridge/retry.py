"""Retrying control-plane calls: 429 (honouring Retry-After), 5xx and dropped connections.

Everything else (401, 403, 404, a rejected spec) fails at once: retrying would only hide it.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

T = TypeVar("T")
TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Backoff:
    base_s: float = 1.0
    cap_s: float = 60.0
    attempts: int = 10

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """What the server asked for (Retry-After); otherwise exponential with jitter."""
        if retry_after is not None:
            return retry_after
        return min(self.cap_s, self.base_s * 2**attempt) * random.uniform(0.5, 1.0)


def retry_after_seconds(headers) -> float | None:
    """Retry-After (seconds or an HTTP date) or x-ms-retry-after-ms, if the response has one."""
    if not headers:
        return None
    millis = headers.get("x-ms-retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def transient(error: BaseException) -> tuple[bool, float | None]:
    """(worth retrying, seconds the server asked to wait)."""
    if isinstance(
        error, ServiceRequestError | ServiceResponseError | ConnectionError | TimeoutError
    ):
        return True, None
    if isinstance(error, HttpResponseError) and error.status_code in TRANSIENT_STATUS:
        response = getattr(error, "response", None)
        return True, retry_after_seconds(getattr(response, "headers", None))
    return False, None


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
