"""Why a job that ended did not succeed, in words for Snakemake's error, and what goes with it:
a stalled job (NotResponding, Paused) is canceled before its attempt counts as failed, and a job
someone else canceled is never sent again. Apart from the executor, so that a status round's
meaning is testable from the poller's plain data and this alone."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aml_bridge.gateway.client import AmlClient, JobState, RunEnd
from aml_bridge.gateway.status import LOST, Outcome, canceled_by_time_limit
from aml_bridge.model.specs.common import JobFacts, timeout_seconds


@dataclass(frozen=True)
class Verdict:
    """`reason` completes "aml: job <name> ..."; `never_again`, when set, is the error every
    later attempt of the job gets at once instead of a submission."""

    reason: str
    never_again: str | None = None


class JobEnds:
    def __init__(self, client: AmlClient, logger: logging.Logger) -> None:
        self.client, self.logger = client, logger
        self.canceled_here: set[str] = set()  # canceled by this run (Ctrl-C, stalled jobs)

    def verdict(self, name: str, facts: JobFacts, state: JobState, result: Outcome) -> Verdict:
        """The verdict on a job whose status round found it ended without success."""
        if state.status == LOST:
            return Verdict("is no longer known to the workspace (deleted or never created)")
        if result is Outcome.STALLED:
            return Verdict(self._cancel_stalled(name, state.status))
        if result is Outcome.CANCELED:
            return self._canceled(facts, name)
        error = (self.run_end(name).message or "no error message").rstrip(". ")
        return Verdict(f"{state.status}: {error}")

    def run_end(self, name: str) -> RunEnd:
        try:
            return self.client.run_end(name)
        except Exception as e:
            self.logger.warning(f"aml: reading the error of {name} failed ({e})")
            return RunEnd(None, None)

    def _cancel_stalled(self, name: str, status: str) -> str:
        """NotResponding (or Paused) may resume: cancel the job before its attempt counts as
        failed, so that it cannot run alongside its retry."""
        self.canceled_here.add(name)
        try:
            self.client.cancel(name)
        except Exception as e:
            return (
                f"was {status} and canceling it failed ({e}): cancel it in the Studio before "
                "its retry finishes, or both may write the outputs"
            )
        return f"was {status}; canceled so that it cannot resume alongside its retry"

    def _canceled(self, facts: JobFacts, name: str) -> Verdict:
        """Canceled: by its time limit (a failed attempt), by this run, or by someone else (then
        the job is not resubmitted: someone meant it to stop)."""
        limit = timeout_seconds(facts)
        end = self.run_end(name)
        if canceled_by_time_limit(end.message, end.ran_s, limit):
            return Verdict(
                f"exceeded its time limit and was canceled by Azure ML: rule {facts.rule} has "
                f"runtime={facts.resources.get('runtime')} (minutes; the job's limits.timeout "
                f"{limit} s); raise the rule's runtime resource"
            )
        if name in self.canceled_here:
            return Verdict("was canceled by this run")
        return Verdict(
            "was canceled outside this run (Studio, CLI or API); not resubmitted",
            never_again=(
                f"aml: {facts.label} was canceled outside this run (job {name}); not resubmitted. "
            ),
        )
