"""A job refused for vCPU quota waits and is sent again, instead of failing the run.

Azure ML accepts the job, then fails it at once with JobNodeCountExceedsCoreQuota when its nodes
need more vCPUs than the subscription's quota for the VM family (or the region's total) allows
(a job that fits the limit but not what other nodes leave free just stays Queued). Nothing the
job does changes that: a quota increase (or fewer nodes) does. So the job is sent again, under a
new name, after the waits of `retry.quota_backoff`, saying why and how to fix it; when the tries
are used up it fails with Azure ML's message.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from aml_bridge.executor.resubmit import Spec, renamed
from aml_bridge.gateway.retry import Backoff
from aml_bridge.model.specs.pipeline import PipelineJobSpec

QUOTA_REFUSAL = re.compile(r"JobNodeCountExceedsCoreQuota|ClusterCoreQuotaReached")
TRY_SUFFIX = re.compile(r"-q\d+$")


@dataclass(frozen=True)
class Wait:
    spec: Spec  # the job to send once the wait is over
    delay_s: float
    line: str  # what the log says


class QuotaWaits:
    """`error_of(job name)` is Azure ML's error message of a failed job (or None),
    `step_errors(pipeline job name)` those of its failed steps (a group's refusal is its step's).
    """

    def __init__(
        self,
        backoff: Backoff,
        error_of: Callable[[str], str | None],
        step_errors: Callable[[str], list[str]] = lambda name: [],
    ) -> None:
        self.backoff, self._error_of, self._step_errors = backoff, error_of, step_errors
        self._tries: dict[str, int] = {}  # first job name → times sent again
        self._notes: dict[str, str] = {}  # job name → phrase for the run trace
        self._stopped = threading.Event()

    def after_failure(self, name: str, label: str, spec: Spec) -> Wait | None:
        """The wait and the job to send again when `name` failed for quota; None otherwise (a
        failure of another kind, or the tries used up: then it fails as it is)."""
        errors = [self._error_of(name) or ""]
        if isinstance(spec, PipelineJobSpec):
            errors += self._step_errors(name)
        error = next((e for e in errors if QUOTA_REFUSAL.search(e)), None)
        if error is None:
            return None
        first = TRY_SUFFIX.sub("", name)
        tries = self._tries.get(first, 0)
        if tries + 1 >= self.backoff.attempts:
            return None
        self._tries[first] = tries + 1
        delay = self.backoff.delay(tries, None)
        again = renamed(spec, f"{first}-q{tries + 1}")
        line = (
            f"aml: {label} (job {name}) was refused for vCPU quota: {error.rstrip('. ')}. "
            "Azure ML starts it only once the quota allows: request a quota increase in the "
            "Azure portal (Azure Machine Learning → Quota) or lower the cluster's nodes. "
            f"Sending it again as job {again.name} in {delay:.0f} s "
            f"(try {tries + 2} of {self.backoff.attempts})"
        )
        self._notes[name] = f"refused for vCPU quota; sent again as {again.name}"
        return Wait(again, delay, line)

    def note(self, name: str) -> str | None:
        """The run trace's note for a job refused for quota (None for others)."""
        return self._notes.get(name)

    def sleep(self, seconds: float) -> None:
        """Wait before sending a job again; CancelledError once the run is being stopped."""
        from concurrent.futures import CancelledError

        if self._stopped.wait(seconds):
            raise CancelledError("the run is being stopped: not sent again")

    def stop(self) -> None:
        self._stopped.set()
