"""First-in first-out dispatch onto each cluster's nodes: jobs wait in Queued while it is full.

Nodes cost time to allocate on Azure ML: a job that needs a node no idle one can serve waits
`NodeTimes.startup_s` (its nodes are being allocated) before it starts; a node a job released
stays allocated for `NodeTimes.idle_s` and serves the next job at once. The nodes a job held,
from dispatch to release, are accounted in `NodeUsage` (what Azure bills for the job).

Each node has an Azure Batch identity and a root folder, as a compute cluster's nodes (Batch
pool nodes) do: a job on it sees `AZ_BATCH_NODE_ID` and `AZ_BATCH_NODE_SHARED_DIR` (a folder
shared by every task on the node), kept while the node stays allocated, deleted with it.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from .usage import NodeUsage

# https://learn.microsoft.com/azure/batch/batch-compute-node-environment-variables
NODE_ID_ENV = "AZ_BATCH_NODE_ID"
NODE_SHARED_DIR_ENV = "AZ_BATCH_NODE_SHARED_DIR"
QUOTA_RECHECK_S = 0.5  # how often a job waiting for vCPU quota looks again


@dataclass(frozen=True)
class NodeTimes:
    """Seconds a node allocation takes, and seconds a released node stays allocated."""

    startup_s: float = 0.0
    idle_s: float = 0.0


@dataclass
class Node:
    """One allocated node: its Batch node id and root folder (`shared/` is the node's)."""

    id: str
    root: Path
    released_at: float = 0.0

    def environment(self) -> dict[str, str]:
        """What Batch sets for every task on the node."""
        return {NODE_ID_ENV: self.id, NODE_SHARED_DIR_ENV: str(self.root / "shared")}


@dataclass
class _Waiting:
    name: str
    nodes: int
    ready_at: float


# start(job name, the job's nodes) -> whether the nodes were reclaimed (a low-priority
# preemption: Azure takes the VMs back, so they do not return to the idle pool)
Start = Callable[[str, list[Node]], bool]


class Scheduler:
    """Starts `start(name, nodes)` on a thread when enough nodes are free; records the peak in
    use. Nodes live under `nodes_dir` (emptied here: a new pool has no nodes)."""

    def __init__(
        self,
        max_nodes: int,
        start: Start,
        nodes_dir: Path,
        nodes: NodeTimes = NodeTimes(),
        room: Callable[[int], bool] = lambda _nodes: True,
        usage: NodeUsage | None = None,
        cluster: str = "",
    ) -> None:
        self.max_nodes = max_nodes
        self._room = room  # whether the vCPU quota lets the cluster allocate that many nodes
        self.usage, self.cluster = usage or NodeUsage(), cluster
        self._start = start
        self._times = nodes
        self._dir = nodes_dir
        shutil.rmtree(nodes_dir, ignore_errors=True)
        # Batch's documented form of a node id, e.g. tvm-1219235766_3-20160919t172711z
        self._pool_number = int(hashlib.sha256(str(nodes_dir).encode()).hexdigest()[:8], 16)
        self._idle: list[Node] = []  # idle, still allocated nodes
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

    @property
    def nodes_in_use(self) -> int:
        """Read without the lock: other clusters' quota checks must not wait for it."""
        return self._in_use

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
        with self._cond:
            self._release(self._idle)
            self._idle = []

    def _loop(self) -> None:
        with self._cond:
            while not self._stopped:
                head = self._queue[0] if self._queue else None
                now = time.monotonic()
                self._scale_down(now)
                if head is None or self._in_use + head.nodes > self.max_nodes:
                    self._cond.wait(self._next_scale_down(now))
                elif head.ready_at > now:
                    self._cond.wait(head.ready_at - now)
                elif not self._room(head.nodes):  # Queued until quota frees (other clusters)
                    self._cond.wait(QUOTA_RECHECK_S)
                else:
                    self._queue.popleft()
                    self._in_use += head.nodes
                    self.peak_in_use = max(self.peak_in_use, self._in_use)
                    nodes, startup = self._allocate(head.nodes)
                    thread = threading.Thread(
                        target=self._run,
                        args=(head, nodes, startup, now),
                        name=f"job-{head.name}",
                        daemon=True,
                    )
                    self._threads.add(thread)
                    thread.start()

    def _allocate(self, count: int) -> tuple[list[Node], float]:
        """Take idle nodes first (most recently released), allocate the rest; the nodes and
        the start-up wait (0 when none is new)."""
        self._idle.sort(key=lambda n: n.released_at)
        reused = min(count, len(self._idle))
        nodes = self._idle[len(self._idle) - reused :]
        del self._idle[len(self._idle) - reused :]
        for _ in range(count - reused):
            self.allocations += 1
            stamp = time.strftime("%Y%m%dt%H%M%Sz", time.gmtime())
            node_id = f"tvm-{self._pool_number}_{self.allocations}-{stamp}"
            nodes.append(Node(node_id, self._dir / node_id))
            (nodes[-1].root / "shared").mkdir(parents=True)
        return nodes, self._times.startup_s if count > reused else 0.0

    def _scale_down(self, now: float) -> None:
        """Release the nodes idle for `idle_s` (with the lock held)."""
        expired = [n for n in self._idle if now - n.released_at >= self._times.idle_s]
        if expired:
            self._idle = [n for n in self._idle if n not in expired]
            self._release(expired)

    def _next_scale_down(self, now: float) -> float | None:
        if not self._idle:
            return None
        first = min(n.released_at for n in self._idle)
        return max(0.0, first + self._times.idle_s - now)

    def _release(self, nodes: list[Node]) -> None:
        for node in nodes:
            shutil.rmtree(node.root, ignore_errors=True)

    def _run(self, item: _Waiting, nodes: list[Node], startup_s: float, allocated: float) -> None:
        reclaimed = False
        try:
            time.sleep(startup_s)
            reclaimed = self._start(item.name, nodes)
        finally:
            held = time.monotonic() - allocated
            self.usage.held(item.name, self.cluster, item.nodes, held)
            with self._cond:
                self._in_use -= item.nodes
                released = time.monotonic()
                for node in nodes:
                    node.released_at = released
                if reclaimed:
                    self._release(nodes)
                else:
                    self._idle += nodes
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
        start: Start,
        nodes_dir: Path,
        nodes: NodeTimes = NodeTimes(),
        room: Callable[[str, int], bool] = lambda _cluster, _nodes: True,
    ) -> None:
        self.default = next(iter(max_nodes))
        self._start, self._dir, self._nodes, self._room = start, nodes_dir, nodes, room
        self.usage = NodeUsage()
        self._pools = {name: self._pool(name, limit) for name, limit in max_nodes.items()}

    def _pool(self, cluster: str, max_nodes: int) -> Scheduler:
        return Scheduler(
            max_nodes, self._start, self._dir / cluster, self._nodes,
            partial(self._room, cluster), self.usage, cluster,
        )  # fmt: skip

    def in_use(self) -> dict[str, int]:
        """Nodes each cluster holds now."""
        return {name: pool.nodes_in_use for name, pool in self._pools.items()}

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
