"""Retry policy: back off on throttling, 5xx and dropped connections; give up fast otherwise.

The SDK's own storage policy does not retry 429 and retries refused connections for tens of
seconds. Here a refused/unresolvable endpoint gets a few quick retries (an endpoint restarting
in a second is still reached; a closed port fails within seconds), 429/5xx and connections
dropped mid-request get longer exponential backoff (Retry-After honoured), and 4xx auth or
not-found answers are never retried.

`is_transient_status`, `retry_after_seconds` and `backoff` are the project's one retry
vocabulary: the Azure ML executor (aml_bridge.gateway.retry) imports them from here, because this
package is the one shipped to remote jobs on its own.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from io import SEEK_SET

from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.pipeline.policies import HTTPPolicy

NON_RETRYABLE_5XX = {501, 505}
STORAGE_RETRY_OPTIONS = (
    "retry_total",
    "retry_connect",
    "retry_read",
    "retry_status",
    "retry_to_secondary",
    "location_mode",
    "hosts",
    "retry_hook",
)


@dataclass(frozen=True)
class RetryBudget:
    connect: int = 3
    connect_backoff: float = 0.5
    connect_window: float = 6.0  # seconds; a connect that times out is not retried past this
    transient: int = 6
    transient_backoff: float = 0.5
    max_backoff: float = 30.0


def is_transient_status(status: int) -> bool:
    """408, 429 and 5xx (but 501 Not Implemented, 505 Version Not Supported): worth retrying."""
    return status in (408, 429) or (status >= 500 and status not in NON_RETRYABLE_5XX)


def backoff(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """The server's Retry-After when it sent one (never sooner), else exponential backoff
    (attempt 0: `base`) capped at `cap`, with jitter down to half of it."""
    if retry_after is not None:
        return max(retry_after, 0.0)
    return min(cap, base * 2**attempt) * random.uniform(0.5, 1.0)


def retry_after_seconds(headers) -> float | None:
    """The server's requested wait: x-ms-retry-after-ms, else Retry-After in seconds or as an
    HTTP date; None when absent or unreadable."""
    if not headers:
        return None
    millis = headers.get("x-ms-retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time())


class TransientRetryPolicy(HTTPPolicy):
    """Drop-in `retry_policy` for azure-storage-blob clients."""

    def __init__(self, budget: RetryBudget | None = None) -> None:
        super().__init__()
        self.budget = budget or RetryBudget()

    def send(self, request):
        # The SDK hands these options to its own retry policy and reads location_mode back.
        options = {name: request.context.options.pop(name, None) for name in STORAGE_RETRY_OPTIONS}
        response = self._send_with_retries(request)
        response.http_response.location_mode = options["location_mode"] or "primary"
        return response

    def _send_with_retries(self, request):
        body = request.http_request.body
        position = body.tell() if hasattr(body, "read") and hasattr(body, "tell") else None
        connect_failures = transient_failures = 0
        started = time.monotonic()
        while True:
            try:
                response = self.next.send(request)
            except ServiceRequestError:
                # Not sent: connection refused, DNS failure, connect timeout.
                if (
                    connect_failures >= self.budget.connect
                    or time.monotonic() - started > self.budget.connect_window
                    or not self._rewind(body, position)
                ):
                    raise
                delay = backoff(connect_failures, self.budget.connect_backoff, 4.0)
                connect_failures += 1
            except ServiceResponseError:
                # Sent, then the connection dropped or the read timed out.
                if transient_failures >= self.budget.transient or not self._rewind(body, position):
                    raise
                delay = backoff(
                    transient_failures, self.budget.transient_backoff, self.budget.max_backoff
                )
                transient_failures += 1
            else:
                status = response.http_response.status_code
                if not is_transient_status(status) or transient_failures >= self.budget.transient:
                    return response
                if not self._rewind(body, position):
                    return response
                delay = backoff(
                    transient_failures,
                    self.budget.transient_backoff,
                    self.budget.max_backoff,
                    retry_after_seconds(response.http_response.headers),
                )
                transient_failures += 1
            time.sleep(delay)

    @staticmethod
    def _rewind(body, position) -> bool:
        if not hasattr(body, "read"):
            return True
        if position is None:
            return False
        try:
            body.seek(position, SEEK_SET)
        except (OSError, ValueError):
            return False
        return True
