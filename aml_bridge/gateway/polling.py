"""The one owner of status polling: batch lookups, jobs missing from them, the wait the
service asked for, and the interval to the next round.

A round looks the active jobs up by id in run history's batch lookup (`AmlClient.statuses`),
whatever their type (command or pipeline jobs are all runs). A job missing from the answer
(eventual consistency) is looked up by name after a few rounds; a refused batch lookup (a role
without run-history access) falls back to one GET per job. A round's answer is plain data
(`Found`): the jobs that ended with what their status means, and those Azure ML restarted;
what to tell Snakemake about them is the executor's (and `job_ends`'s).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aml_bridge.gateway.client import AmlClient, JobState
from aml_bridge.gateway.retry import refused
from aml_bridge.gateway.status import LOST, Outcome, next_interval, outcome, restarted

# Rounds a submitted job may be missing from the batch lookup before it is looked up by name.
MISSING_ROUNDS_BEFORE_GET = 3


@dataclass(frozen=True)
class Restart:
    """A job seen running and then waiting again: Azure ML restarts it (preemption)."""

    name: str
    was: str
    now: str


@dataclass(frozen=True)
class Found:
    """What one status round found, as plain data: the jobs that ended (with their state and
    what it means), and those Azure ML restarted. Every other job asked about is still active
    (or still missing from the lookup)."""

    ended: dict[str, tuple[JobState, Outcome]] = field(default_factory=dict)
    restarts: list[Restart] = field(default_factory=list)


class StatusPoller:
    def __init__(
        self, client: AmlClient, experiment: str, base_interval: float, logger: logging.Logger
    ) -> None:
        self.client, self.experiment, self.logger = client, experiment, logger
        self.base_interval = base_interval
        self.interval = base_interval
        self._server_wait: float | None = None
        self._missing: dict[str, int] = {}
        self._last: dict[str, str] = {}  # the status each active job had in the last round
        self._batch_refused_said = False

    def server_asked(self, wait: float) -> None:
        """A call was throttled: the next round comes no sooner than the service asked."""
        self._server_wait = max(self._server_wait or 0.0, wait)

    def poll(self, names: list[str]) -> Found:
        """One round over the named jobs. A lookup that fails ends no job: all stay active."""
        try:
            states = self._round(names)
        except Exception as e:
            self.logger.warning(f"aml: status request failed ({e}); jobs stay active")
            return Found()
        found = Found()
        for name, state in states.items():
            if state is None:
                continue
            was, self._last[name] = self._last.get(name), state.status
            if restarted(was, state.status):
                found.restarts.append(Restart(name, str(was), state.status))
            result = outcome(state.status)
            if result is not Outcome.ACTIVE:
                found.ended[name] = (state, result)
                self._forget(name)
        return found

    def _round(self, names: list[str]) -> dict[str, JobState | None]:
        """Each job's state; None while it is still missing. Raises when the lookup fails."""
        self._server_wait = None
        states = self._statuses(names)
        return {name: states.get(name) or self._lookup_missing(name) for name in names}

    def _forget(self, name: str) -> None:
        """The job ended: nothing more to remember about it."""
        self._missing.pop(name, None)
        self._last.pop(name, None)

    def next_round(self, changed: bool) -> float:
        """Seconds to the next round: base when a job ended, else slower; never sooner than
        the service asked."""
        self.interval = next_interval(self.interval, self.base_interval, changed, self._server_wait)
        return self.interval

    def _statuses(self, names: list[str]) -> dict[str, JobState]:
        try:
            return self.client.statuses(self.experiment, names)
        except Exception as e:
            if not refused(e):
                raise
            if not self._batch_refused_said:
                self._batch_refused_said = True
                self.logger.warning(
                    f"aml: the batch status lookup was refused ({e}); "
                    "jobs are looked up one request each instead"
                )
        return {name: state for name in names if (state := self.client.get(name)) is not None}

    def _lookup_missing(self, name: str) -> JobState | None:
        self._missing[name] = self._missing.get(name, 0) + 1
        if self._missing[name] < MISSING_ROUNDS_BEFORE_GET:
            return None
        try:
            return self.client.get(name) or JobState(name, LOST)
        except Exception as e:
            self.logger.warning(f"aml: looking up {name} failed ({e})")
            return None
