"""Status rounds: what an Azure ML job status means for Snakemake, and how often to ask.

A round looks the active jobs up by id in run history's batch lookup (a job's name is its run
id), up to `client.STATUS_BATCH` jobs per request, instead of one GET per job: 500 active jobs
cost 2 requests, however long the run's history.
"""

from __future__ import annotations

import re
from enum import Enum

# Not an Azure ML status: a submitted job that the workspace no longer knows (a failed attempt).
LOST = "NotFound"
MAX_INTERVAL_FACTOR = 8


class Outcome(Enum):
    ACTIVE = "active"  # keep watching
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # a failed attempt: --retries resubmits it
    CANCELED = "canceled"  # by its time limit (a failed attempt) or by someone (never resubmitted)
    STALLED = "stalled"  # may still resume: cancel it first, then it is a failed attempt


# Every value of Azure ML's JobStatus (REST enum; the SDK's JobStatus docstrings quoted).
MEANING: dict[str, Outcome] = {
    "NotStarted": Outcome.ACTIVE,  # accepted, not yet processed
    "Starting": Outcome.ACTIVE,  # being processed; the run id exists
    "Provisioning": Outcome.ACTIVE,  # on-demand compute being created
    "Preparing": Outcome.ACTIVE,  # image build / environment setup
    "Queued": Outcome.ACTIVE,  # waiting for nodes (also after a low-priority preemption)
    "Running": Outcome.ACTIVE,
    "Finalizing": Outcome.ACTIVE,  # user code done, outputs being collected
    "CancelRequested": Outcome.ACTIVE,  # becomes Canceled
    "Completed": Outcome.SUCCEEDED,
    "Failed": Outcome.FAILED,
    # limits.timeout expired ("the job will be cancelled") or someone canceled it; not preemption,
    # which re-queues the same job
    "Canceled": Outcome.CANCELED,
    # "no heartbeat recently sent"; the only status a run may leave for an earlier one (resume)
    "NotResponding": Outcome.STALLED,
    "Paused": Outcome.STALLED,  # "paused by users": may be resumed
    "Unknown": Outcome.ACTIVE,  # "not mapped to all other statuses": wait for a real one
    LOST: Outcome.FAILED,
}
# Outcomes no later status changes: the job ran to its end (a stalled job may still resume).
FINAL = frozenset({Outcome.SUCCEEDED, Outcome.FAILED, Outcome.CANCELED})
TERMINAL = frozenset(status for status, meaning in MEANING.items() if meaning in FINAL)
# A job seen running and then waiting again was restarted (low-priority preemption re-queues it).
STARTED = {"Running", "Finalizing"}
WAITING = {"NotStarted", "Starting", "Provisioning", "Preparing", "Queued"}
# Words of a time-limit cancellation in the run's error (its exact text is not documented).
TIMEOUT_WORDS = re.compile(r"time ?out|timed out|time limit|run duration", re.IGNORECASE)


def outcome(status: str) -> Outcome:
    """Unknown or new statuses count as active: only a terminal status ends a job."""
    return MEANING.get(status, Outcome.ACTIVE)


def is_terminal(status: str) -> bool:
    """The job ended for good: completed, failed, canceled (or lost)."""
    return status in TERMINAL


def restarted(previous: str | None, current: str) -> bool:
    return previous in STARTED and current in WAITING


def canceled_by_time_limit(message: str | None, ran_s: float | None, limit_s: int | None) -> bool:
    """A Canceled job ended by its limits.timeout: the run's error says so, or it ran the whole
    limit (a cancel from outside would have to land in the last instant to look the same)."""
    if not limit_s:
        return False
    return bool(message and TIMEOUT_WORDS.search(message)) or (ran_s or 0) >= limit_s


def next_interval(current: float, base: float, changed: bool, server_wait: float | None) -> float:
    """Back to base when a job finished; otherwise slower, up to 8x base; never sooner than the
    service asked for."""
    interval = base if changed else min(current * 1.5, base * MAX_INTERVAL_FACTOR)
    return max(interval, server_wait or 0.0)
