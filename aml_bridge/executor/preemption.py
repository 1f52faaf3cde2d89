"""Low-priority preemption past a limit: the job moves to a dedicated cluster of the same size.

Azure ML restarts a job whose low-priority node was reclaimed itself (the same job, queued
again, started from the beginning), as often as it happens; no API counts the restarts. They are
counted here from what the status rounds see: a run seen running and then waiting again
(`status.restarted`). A pipeline job stays Running while its step is restarted, so for a group
the step's own status is read (one child listing per round, only for groups that could move).
Past `--aml-max-preemptions` the job is canceled and sent again, under a new name, to a
dedicated cluster of the run's clusters with the same VM size; the decision is `move_target`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aml_bridge.executor.resubmit import Spec, renamed
from aml_bridge.gateway.polling import Restart
from aml_bridge.gateway.status import restarted
from aml_bridge.model.clusters import Cluster
from aml_bridge.model.specs.pipeline import PipelineJobSpec

LOW_PRIORITY = "low_priority"
DEDICATED = "dedicated"
MOVED_SUFFIX = "-dedicated"  # a moved job's name: the preempted job's, plus this


def _tier(cluster: Cluster) -> str:
    """The SDK says low_priority / dedicated; the REST body LowPriority / Dedicated."""
    return cluster.tier.replace("_", "").lower()


def is_low_priority(cluster: Cluster) -> bool:
    return _tier(cluster) == LOW_PRIORITY.replace("_", "")


def dedicated_twin(cluster: Cluster, clusters: tuple[Cluster, ...]) -> Cluster | None:
    """The first dedicated cluster of the run with the same VM size, if any."""
    return next(
        (
            c
            for c in clusters
            if _tier(c) == DEDICATED and c.vm_size.lower() == cluster.vm_size.lower()
        ),
        None,
    )


def move_target(
    preemptions: int, limit: int, cluster: Cluster | None, clusters: tuple[Cluster, ...]
) -> Cluster | None:
    """Where a job preempted `preemptions` times on `cluster` moves: a dedicated cluster of the
    same VM size once the count exceeds the limit; None while it stays (under the limit, not
    low priority, or no dedicated cluster of its size among the run's)."""
    if cluster is None or preemptions <= limit or not is_low_priority(cluster):
        return None
    return dedicated_twin(cluster, clusters)


@dataclass(frozen=True)
class Move:
    """A job canceled on its low-priority cluster and sent again to a dedicated one."""

    job: str  # the preempted job's name
    moved_to: str  # the new job's name
    label: str
    source: str  # cluster names
    target: str
    vm_size: str
    preemptions: int

    @property
    def note(self) -> str:
        """One phrase for the run trace's note column."""
        return (
            f"preempted {self.preemptions}x on low-priority {self.source}; moved to dedicated "
            f"{self.target} as {self.moved_to}"
        )

    def line(self) -> str:
        return (
            f"aml: {self.label} (job {self.job}) was preempted {self.preemptions} times on "
            f"low-priority cluster {self.source}: canceled, and sent again as job "
            f"{self.moved_to} to dedicated cluster {self.target} (same VM size {self.vm_size})"
        )


def moved_spec(spec: Spec, target: Cluster) -> Spec:
    """The same job for the dedicated cluster, under a name of its own (the preempted job keeps
    its name); a group at most the target's nodes."""
    name = spec.name + MOVED_SUFFIX
    if isinstance(spec, PipelineJobSpec):
        count = min(spec.instance_count, target.max_instances)
        return renamed(spec, name, compute=target.name, instance_count=count)
    return renamed(spec, name, compute=target.name)


class PreemptionWatch:
    """Counts each job's restarts across status rounds; says which jobs are due to move.

    `step_statuses(pipeline job name)` gives each step's status (the client's `steps`).
    `note(job name)` is the move's phrase for the run trace (old or new name), or None.
    """

    def __init__(
        self,
        clusters: tuple[Cluster, ...],
        limit: int,
        step_statuses: Callable[[str], dict[str, str]],
    ) -> None:
        self.clusters, self.limit, self._step_statuses = clusters, limit, step_statuses
        self.counts: dict[str, int] = {}
        self._steps: dict[str, dict[str, str]] = {}  # pipeline → step → last status seen
        self.moves: dict[str, Move] = {}  # by both the old and the new job name

    def note(self, name: str) -> str | None:
        move = self.moves.get(name)
        return move.note if move else None

    def _cluster(self, spec: Spec) -> Cluster | None:
        return next((c for c in self.clusters if c.name == spec.compute), None)

    def movable(self, spec: Spec) -> bool:
        """On a low-priority cluster that has a dedicated twin: worth counting restarts."""
        cluster = self._cluster(spec)
        return bool(cluster and move_target(self.limit + 1, self.limit, cluster, self.clusters))

    def round(
        self, restarts: list[Restart], active: dict[str, tuple[str, Spec]]
    ) -> list[tuple[Move, Spec]]:
        """The moves due after a status round: `restarts` as the poller found them, `active` the
        jobs still active (name → (label, spec)). Each move comes with the spec to submit."""
        for restart in restarts:
            entry = active.get(restart.name)
            if entry and not isinstance(entry[1], PipelineJobSpec):
                self.counts[restart.name] = self.counts.get(restart.name, 0) + 1
        due = []
        for name, (label, spec) in active.items():
            if not self.movable(spec):
                continue
            if isinstance(spec, PipelineJobSpec):
                self._count_step_restarts(name)
            cluster = self._cluster(spec)
            target = move_target(self.counts.get(name, 0), self.limit, cluster, self.clusters)
            if target is None or cluster is None:
                continue
            new = moved_spec(spec, target)
            move = Move(
                name, new.name, label, cluster.name, target.name, cluster.vm_size,
                self.counts[name],
            )  # fmt: skip
            self.moves[name] = self.moves[new.name] = move
            due.append((move, new))
        return due

    def _count_step_restarts(self, name: str) -> None:
        """A step seen running and then waiting again counts as a restart of its pipeline."""
        try:
            now = self._step_statuses(name)
        except Exception:  # a failed listing counts nothing; the next round looks again
            return
        last = self._steps.setdefault(name, {})
        for step, status in now.items():
            if restarted(last.get(step), status):
                self.counts[name] = self.counts.get(name, 0) + 1
            last[step] = status
