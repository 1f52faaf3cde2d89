"""Node allocation: a job whose nodes no idle node can serve allocates them; a node released
less than the idle time ago serves the next job without an allocation."""

from __future__ import annotations

import threading
import time

from aml_local.scheduler import NodeTimes, Scheduler


def _run_one_after_another(times: NodeTimes, nodes: list[int]) -> Scheduler:
    done = threading.Semaphore(0)
    scheduler = Scheduler(4, lambda _name: done.release(), times)
    for i, n in enumerate(nodes):
        scheduler.submit(f"job{i}", n)
        assert done.acquire(timeout=10)
        while scheduler.stats()["nodes_in_use"]:  # released once start() has returned
            time.sleep(0.01)
    scheduler.stop()
    return scheduler


def test_idle_nodes_serve_the_next_job_without_an_allocation():
    kept = _run_one_after_another(NodeTimes(idle_s=3600), [2, 1, 3])
    assert kept.stats()["node_allocations"] == 3  # 2, then one of those, then 1 more


def test_released_nodes_are_allocated_again_without_idle_time():
    released = _run_one_after_another(NodeTimes(), [2, 1, 3])
    assert released.stats()["node_allocations"] == 6
