"""Faults on request: failed, preempted or unresponsive jobs, throttled or unavailable API,
dropped connections, slow queueing.

Set at start from the `AML_LOCAL_FAULTS` environment variable (JSON) or at runtime through
`PUT /_local/faults`; fractions draw from one seeded generator so a test run is repeatable.
"""

from __future__ import annotations

import json
import random
import re
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

from .errors import ServiceError

FAULTS_ENV = "AML_LOCAL_FAULTS"

PREEMPTION_NOTE = (
    "Job preempted: the low-priority node it ran on was reclaimed. Azure ML queues the job "
    "again; it restarts from the beginning."
)


class DroppedConnection(Exception):
    """Raised by a route that did its work: the server closes the connection unanswered."""


@dataclass
class FaultSettings:
    fail_pattern: str | None = None  # regex searched in the job name
    fail_tag: str | None = None  # "key" or "key=value" among the job's tags
    fail_fraction: float = 0.0
    preempt_pattern: str | None = None  # regex: matching jobs are preempted once running
    # (a pipeline's step matches by its pipeline job's name); only on low-priority clusters
    preempt_fraction: float = 0.0
    preempt_times: int = 1  # runs of a matching job that are preempted (then it runs to its end)
    preempt_after: float = 0.0  # seconds in Running before the node is reclaimed
    requeue_delay: float = 0.0  # seconds a preempted job waits in Queued before it restarts
    not_responding_pattern: str | None = None  # regex: matching jobs stop sending heartbeats
    not_responding_after: float = 0.0  # seconds in Running before they go NotResponding
    not_responding_for: float = 5.0  # seconds NotResponding; then they resume (Running)
    drop_response_pattern: str | None = None  # regex: the first PUT of a matching job is
    # processed, then its connection closed without an answer
    refuse_batch_status: int = 0  # a 4xx: run history's batch lookup by ids is refused
    throttle_fraction: float = 0.0  # fraction of API calls refused
    throttle_status: int = 429  # 429 (with Retry-After) or 503
    retry_after: int = 1  # seconds; the SDK parses Retry-After as an integer
    queue_delay: float = 0.0  # seconds each job waits in Queued at least
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault settings {unknown}; known: {sorted(known)}")
        settings = cls(**data)
        if settings.throttle_status not in (429, 503):
            raise ValueError("throttle_status must be 429 or 503")
        if settings.preempt_times < 1:
            raise ValueError("preempt_times must be at least 1")
        if settings.refuse_batch_status and not 400 <= settings.refuse_batch_status < 500:
            raise ValueError("refuse_batch_status must be a 4xx status (or 0: off)")
        patterns = (
            settings.fail_pattern,
            settings.preempt_pattern,
            settings.not_responding_pattern,
            settings.drop_response_pattern,
        )
        for pattern in patterns:
            if pattern:
                re.compile(pattern)
        return settings


def _tag_matches(selector: str, tags: dict[str, str]) -> bool:
    key, sep, value = selector.partition("=")
    return key in tags and (not sep or tags[key] == value)


class FaultInjector:
    """Thread-safe decisions made from the current settings."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(settings or FaultSettings())

    @classmethod
    def from_environment(cls, environ: dict[str, str]) -> FaultInjector:
        raw = environ.get(FAULTS_ENV)
        return cls(FaultSettings.from_dict(json.loads(raw)) if raw else None)

    def configure(self, settings: FaultSettings) -> None:
        with self._lock:
            self.settings = settings
            self._rng = random.Random(settings.seed)
            self._dropped: set[str] = set()
            self._preempted: dict[str, int] = {}  # job → runs preempted so far

    def as_dict(self) -> dict[str, Any]:
        return asdict(self.settings)

    def _draw(self, fraction: float) -> bool:
        return fraction > 0 and self._rng.random() < fraction

    def throttle(self) -> ServiceError | None:
        """The error to answer this API call with, if it is to be refused."""
        with self._lock:
            s = self.settings
            if not self._draw(s.throttle_fraction):
                return None
        if s.throttle_status == 429:
            return ServiceError(
                429,
                "TooManyRequests",
                "The request was throttled (injected fault). Retry after the given delay.",
                {"Retry-After": str(s.retry_after)},
            )
        return ServiceError(503, "ServiceUnavailable", "The service is unavailable (injected).")

    def batch_refusal(self) -> ServiceError | None:
        """The error to answer run history's batch lookup with, if it is to be refused."""
        with self._lock:
            status = self.settings.refuse_batch_status
        if not status:
            return None
        message = "The client is not authorized to read runs by ids (injected refusal)."
        code = "AuthorizationFailed" if status == 403 else "UserError"
        return ServiceError(status, code, message)

    def job_failure(self, name: str, tags: dict[str, str]) -> str | None:
        """Why this job is to fail without running its command, or None."""
        with self._lock:
            s = self.settings
            if s.fail_pattern and re.search(s.fail_pattern, name):
                return f"Injected failure: job name matches {s.fail_pattern!r}."
            if s.fail_tag and _tag_matches(s.fail_tag, tags):
                return f"Injected failure: job carries tag {s.fail_tag!r}."
            if self._draw(s.fail_fraction):
                return f"Injected failure: random fraction {s.fail_fraction:g}."
        return None

    def preemption_delay(self, name: str, matched: str | None = None) -> float | None:
        """Seconds after which this running job's node is reclaimed, or None. `matched` is the
        name the pattern is searched in (a step's pipeline job; default: `name`). Up to
        `preempt_times` runs of a job: the next restart then runs to its end."""
        with self._lock:
            s = self.settings
            if self._preempted.get(name, 0) >= s.preempt_times:
                return None
            hit = bool(s.preempt_pattern and re.search(s.preempt_pattern, matched or name))
            if hit or self._draw(s.preempt_fraction):
                self._preempted[name] = self._preempted.get(name, 0) + 1
                return s.preempt_after
        return None

    def not_responding(self, name: str) -> tuple[float, float] | None:
        """(seconds in Running before the job stops responding, seconds until it resumes)."""
        with self._lock:
            s = self.settings
            if s.not_responding_pattern and re.search(s.not_responding_pattern, name):
                return s.not_responding_after, s.not_responding_for
        return None

    def drop_response(self, name: str) -> bool:
        """Whether the answer to this job's PUT is to be lost (once per job name)."""
        with self._lock:
            pattern = self.settings.drop_response_pattern
            if not pattern or name in self._dropped or not re.search(pattern, name):
                return False
            self._dropped.add(name)
            return True

    def queue_delay(self, requeued: bool = False) -> float:
        with self._lock:
            s = self.settings
            return s.requeue_delay if requeued else s.queue_delay
