"""First-in first-out dispatch onto each cluster's nodes: jobs wait in Queued while it is full.

Nodes cost time to allocate on Azure ML: a job that needs a node no idle one can serve waits
`NodeTimes.startup_s` (its nodes are being allocated) before it starts; a node a job released
stays allocated for `NodeTimes.idle_s` and serves the next job at once. The nodes a job held,
from dispatch to release, are accounted in `NodeUsage` (what Azure bills for the job).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .usage import NodeUsage


@dataclass(frozen=True)
class NodeTimes:
    """Seconds a node allocation takes, and seconds a released node stays allocated."""

    startup_s: float = 0.0
    idle_s: float = 0.0


@dataclass
class _Waiting:
    name: str
    nodes: int
    ready_at: float


class Scheduler:
    """Starts `start(name)` on a thread when enough nodes are free; records the peak in use."""

    def __init__(
        self,
        max_nodes: int,
        start: Callable[[str], None],
        nodes: NodeTimes = NodeTimes(),
        usage: NodeUsage | None = None,
        cluster: str = "",
    ) -> None:
        self.max_nodes = max_nodes
        self.usage, self.cluster = usage or NodeUsage(), cluster
        self._start = start
        self._times = nodes
        self._idle: list[float] = []  # when each idle, still allocated node was released
        self.allocations = 0
        self._cond = threading.Condition()
        self._queue: deque[_Waiting] = deque()
        self._in_use = 0
        self.peak_in_use = 0
        self._stopped = False
        self._threads: set[threading.Thread] = set()
        self._loop_thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._loop_thread.start()

    def resize(self, max_nodes: int) -> None:
        with self._cond:
            self.max_nodes = max_nodes
            self._cond.notify_all()

    def submit(self, name: str, nodes: int = 1, delay_s: float = 0.0) -> None:
        with self._cond:
            self._queue.append(_Waiting(name, nodes, time.monotonic() + delay_s))
            self._cond.notify_all()

    def withdraw(self, name: str) -> bool:
        """Remove a job still waiting; False when it has already been dispatched."""
        with self._cond:
            for item in self._queue:
                if item.name == name:
                    self._queue.remove(item)
                    return True
        return False

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {
                "max_nodes": self.max_nodes,
                "nodes_in_use": self._in_use,
                "peak_nodes_in_use": self.peak_in_use,
                "queued": len(self._queue),
                "node_allocations": self.allocations,
            }

    def stop(self, wait_s: float = 30.0) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._loop_thread.join(wait_s)
        for thread in list(self._threads):
            thread.join(wait_s)

    def _loop(self) -> None:
        with self._cond:
            while not self._stopped:
                head = self._queue[0] if self._queue else None
                now = time.monotonic()
                if head is None or self._in_use + head.nodes > self.max_nodes:
                    self._cond.wait()
                elif head.ready_at > now:
                    self._cond.wait(head.ready_at - now)
                else:
                    self._queue.popleft()
                    self._in_use += head.nodes
                    self.peak_in_use = max(self.peak_in_use, self._in_use)
                    startup = self._allocate(head.nodes, now)
                    thread = threading.Thread(
                        target=self._run,
                        args=(head, startup, now),
                        name=f"job-{head.name}",
                        daemon=True,
                    )
                    self._threads.add(thread)
                    thread.start()

    def _allocate(self, nodes: int, now: float) -> float:
        """Take idle nodes first, allocate the rest; the start-up wait (0 when none is new)."""
        self._idle = sorted(t for t in self._idle if now - t < self._times.idle_s)
        reused = min(nodes, len(self._idle))
        del self._idle[len(self._idle) - reused :]
        self.allocations += nodes - reused
        return self._times.startup_s if nodes > reused else 0.0

    def _run(self, item: _Waiting, startup_s: float, allocated: float) -> None:
        try:
            time.sleep(startup_s)
            self._start(item.name)
        finally:
            held = time.monotonic() - allocated
            self.usage.held(item.name, self.cluster, item.nodes, held)
            with self._cond:
                self._in_use -= item.nodes
                self._idle += [time.monotonic()] * item.nodes
                self._threads.discard(threading.current_thread())
                self._cond.notify_all()


class ClusterScheduler:
    """One Scheduler per cluster: each cluster's jobs queue for its own nodes only.

    `stats()` keeps the default (first) cluster's figures at the top level and every
    cluster's under "clusters".
    """

    def __init__(
        self,
        max_nodes: dict[str, int],
        start: Callable[[str], None],
        nodes: NodeTimes = NodeTimes(),
    ) -> None:
        self.default = next(iter(max_nodes))
        self._start, self._nodes = start, nodes
        self.usage = NodeUsage()
        self._pools = {name: self._pool(name, limit) for name, limit in max_nodes.items()}

    def _pool(self, cluster: str, max_nodes: int) -> Scheduler:
        return Scheduler(max_nodes, self._start, self._nodes, self.usage, cluster)

    def submit(self, name: str, nodes: int = 1, delay_s: float = 0.0, cluster: str = "") -> None:
        self._pools[cluster or self.default].submit(name, nodes, delay_s)

    def withdraw(self, name: str) -> bool:
        return any(pool.withdraw(name) for pool in self._pools.values())

    def resize(self, cluster: str, max_nodes: int) -> None:
        """A cluster created or updated through the API: its node limit from now on."""
        pool = self._pools.get(cluster)
        if pool is None:
            self._pools[cluster] = self._pool(cluster, max_nodes)
            return
        pool.resize(max_nodes)

    def stats(self) -> dict:
        each = {name: pool.stats() for name, pool in self._pools.items()}
        return {**each[self.default], "clusters": each}

    def stop(self, wait_s: float = 30.0) -> None:
        for pool in self._pools.values():
            pool.stop(wait_s)
