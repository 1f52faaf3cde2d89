"""Status rounds: what an Azure ML job status means for Snakemake, and how often to ask.

A round looks the active jobs up by id in run history's batch lookup (a job's name is its run
id), up to `client.STATUS_BATCH` jobs per request, instead of one GET per job: 500 active jobs
cost 2 requests, however long the run's history.
"""

from __future__ import annotations

from enum import Enum

SUCCEEDED = {"Completed"}
# Canceled without us asking means the system took the node (preemption): a failed attempt that
# --retries resubmits. NotResponding and Paused are terminal in the SDK too.
FAILED = {"Failed", "NotResponding", "Paused"}
CANCELED = {"Canceled"}
# Not an Azure ML status: a submitted job that the workspace no longer knows (a failed attempt).
LOST = "NotFound"
MAX_INTERVAL_FACTOR = 8


class Outcome(Enum):
    ACTIVE = "active"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PREEMPTED = "preempted"


def outcome(status: str) -> Outcome:
    """Unknown or new statuses count as active: only a terminal status ends a job."""
    if status in SUCCEEDED:
        return Outcome.SUCCEEDED
    if status in FAILED or status == LOST:
        return Outcome.FAILED
    if status in CANCELED:
        return Outcome.PREEMPTED
    return Outcome.ACTIVE


def next_interval(current: float, base: float, changed: bool, server_wait: float | None) -> float:
    """Back to base when a job finished; otherwise slower, up to 8x base; never sooner than the
    service asked for."""
    interval = base if changed else min(current * 1.5, base * MAX_INTERVAL_FACTOR)
    return max(interval, server_wait or 0.0)
