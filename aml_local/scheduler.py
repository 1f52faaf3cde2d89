"""First-in first-out dispatch onto each cluster's nodes: jobs wait in Queued while it is full."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Waiting:
    name: str
    nodes: int
    ready_at: float


class Scheduler:
    """Starts `start(name)` on a thread when enough nodes are free; records the peak in use."""

    def __init__(self, max_nodes: int, start: Callable[[str], None]) -> None:
        self.max_nodes = max_nodes
        self._start = start
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
                    thread = threading.Thread(
                        target=self._run, args=(head,), name=f"job-{head.name}", daemon=True
                    )
                    self._threads.add(thread)
                    thread.start()

    def _run(self, item: _Waiting) -> None:
        try:
            self._start(item.name)
        finally:
            with self._cond:
                self._in_use -= item.nodes
                self._threads.discard(threading.current_thread())
                self._cond.notify_all()


class ClusterScheduler:
    """One Scheduler per cluster: each cluster's jobs queue for its own nodes only.

    `stats()` keeps the default (first) cluster's figures at the top level and every
    cluster's under "clusters".
    """

    def __init__(self, max_nodes: dict[str, int], start: Callable[[str], None]) -> None:
        self.default = next(iter(max_nodes))
        self._start = start
        self._pools = {name: Scheduler(limit, start) for name, limit in max_nodes.items()}

    def submit(self, name: str, nodes: int = 1, delay_s: float = 0.0, cluster: str = "") -> None:
        self._pools[cluster or self.default].submit(name, nodes, delay_s)

    def withdraw(self, name: str) -> bool:
        return any(pool.withdraw(name) for pool in self._pools.values())

    def resize(self, cluster: str, max_nodes: int) -> None:
        """A cluster created or updated through the API: its node limit from now on."""
        pool = self._pools.get(cluster)
        if pool is None:
            self._pools[cluster] = Scheduler(max_nodes, self._start)
            return
        pool.resize(max_nodes)

    def stats(self) -> dict:
        each = {name: pool.stats() for name, pool in self._pools.items()}
        return {**each[self.default], "clusters": each}

    def stop(self, wait_s: float = 30.0) -> None:
        for pool in self._pools.values():
            pool.stop(wait_s)
