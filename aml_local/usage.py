"""Node-seconds per job, as Azure bills a cluster's nodes: from the moment nodes are allocated
to a job (dispatched to it, start-up included) to the moment the job releases them. A preempted
job that runs again adds its second holding. What a run's cost estimate is checked against."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass


@dataclass
class Holding:
    cluster: str
    nodes: int
    node_s: float = 0.0
    holdings: int = 0


class NodeUsage:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Holding] = {}

    def held(self, name: str, cluster: str, nodes: int, seconds: float) -> None:
        """`nodes` of `cluster` were held by the job (or step) `name` for `seconds`."""
        with self._lock:
            holding = self._jobs.setdefault(name, Holding(cluster, nodes))
            holding.node_s += nodes * seconds
            holding.holdings += 1

    def report(self, parent_of: dict[str, str]) -> dict[str, dict]:
        """Every job's node-seconds; a pipeline job's are its steps' sum, each step listed
        under it (`parent_of`: step run id → pipeline job)."""
        with self._lock:
            jobs = {name: vars(h).copy() for name, h in self._jobs.items()}
        out: dict[str, dict] = {n: j for n, j in jobs.items() if n not in parent_of}
        steps: dict[str, dict[str, dict]] = defaultdict(dict)
        for name, job in jobs.items():
            if name in parent_of:
                steps[parent_of[name]][name] = job
        for pipeline, held in steps.items():
            total = sum(s["node_s"] for s in held.values())
            out[pipeline] = {"node_s": total, "steps": held}
        return out
