"""Node allocation: a job whose nodes no idle node can serve allocates them; a node released
less than the idle time ago serves the next job without an allocation, with the same Batch
node id and shared folder; a released node's folder is gone; a parallel step's workers see
the node they run on."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from aml_local.builds import Build
from aml_local.parallel_runtime import ParallelSettings, ParallelStep
from aml_local.runner import Stop
from aml_local.scheduler import NODE_ID_ENV, NODE_SHARED_DIR_ENV, Node, NodeTimes, Scheduler


def _run_one_after_another(
    times: NodeTimes, nodes: list[int], nodes_dir: Path
) -> tuple[Scheduler, list[list[dict[str, str]]]]:
    """Run jobs of `nodes` nodes in turn; each job's node environments, as its command saw
    them (with whether the shared folder existed then)."""
    done = threading.Semaphore(0)
    seen: list[list[dict[str, str]]] = []

    def start(_name: str, job_nodes: list[Node]) -> None:
        envs = [n.environment() for n in job_nodes]
        for env in envs:
            env["exists"] = str(Path(env[NODE_SHARED_DIR_ENV]).is_dir())
        seen.append(envs)
        done.release()

    scheduler = Scheduler(4, start, nodes_dir, times)
    for i, n in enumerate(nodes):
        scheduler.submit(f"job{i}", n)
        assert done.acquire(timeout=10)
        while scheduler.stats()["nodes_in_use"]:  # released once start() has returned
            time.sleep(0.01)
    return scheduler, seen


def test_idle_nodes_serve_the_next_job_without_an_allocation(tmp_path):
    kept, seen = _run_one_after_another(NodeTimes(idle_s=3600), [2, 1, 3], tmp_path)
    kept.stop()
    assert kept.stats()["node_allocations"] == 3  # 2, then one of those, then 1 more
    ids = [[env[NODE_ID_ENV] for env in job] for job in seen]
    assert len(set(ids[0])) == 2 and ids[1][0] in ids[0]  # the second job reuses a node
    assert set(ids[0]) <= set(ids[2]) and len(set(ids[2])) == 3
    assert all(env["exists"] == "True" for job in seen for env in job)
    assert not list(tmp_path.iterdir())  # stopping the pool released its nodes


def test_released_nodes_are_allocated_again_without_idle_time(tmp_path):
    released, seen = _run_one_after_another(NodeTimes(), [2, 1, 3], tmp_path)
    assert released.stats()["node_allocations"] == 6
    ids = [env[NODE_ID_ENV] for job in seen for env in job]
    assert len(set(ids)) == 6  # every job on new nodes
    folders = [Path(env[NODE_SHARED_DIR_ENV]) for job in seen for env in job]
    deadline = time.monotonic() + 10
    while any(f.exists() for f in folders) and time.monotonic() < deadline:
        time.sleep(0.01)  # the pool's loop releases them as soon as it sees them idle
    assert not any(f.exists() for f in folders)
    released.stop()


def test_an_idle_node_is_scaled_down_after_its_idle_time(tmp_path):
    scheduler, seen = _run_one_after_another(NodeTimes(idle_s=0.3), [1], tmp_path)
    shared = Path(seen[0][0][NODE_SHARED_DIR_ENV])
    (shared / "cache").write_text("kept while the node is allocated")
    deadline = time.monotonic() + 10
    while shared.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not shared.exists()  # no job came: the node (and its folder) went
    scheduler.stop()


NODE_ENTRY = """
import os

def run(mini_batch):
    shared = os.environ["AZ_BATCH_NODE_SHARED_DIR"]
    with open(os.path.join(shared, "seen"), "a") as f:  # the node's folder, shared
        f.write(f"{os.getpid()}\\n")
    return [f"{os.environ['AZ_BATCH_NODE_ID']} {shared}" for _ in mini_batch]
"""


def test_parallel_workers_see_the_node_they_run_on(tmp_path):
    code, items = tmp_path / "code", tmp_path / "items"
    for folder in (code, items):
        folder.mkdir()
    (code / "entry.py").write_text(NODE_ENTRY)
    for i in range(12):
        (items / f"{i:02d}.txt").write_text("x")
    nodes = [Node(f"tvm-1_{n}-x", tmp_path / "nodes" / str(n)) for n in (1, 2)]
    for node in nodes:
        (node.root / "shared").mkdir(parents=True)
    step = ParallelStep(
        ParallelSettings(
            entry_script="entry.py", program_arguments=[], instance_count=2,
            max_concurrency_per_instance=2,
        ),
        sorted(str(p) for p in items.iterdir()), code, tmp_path / "logs",
        {"PATH": os.environ["PATH"], "PYTHONPATH": sys.path[0]}, Stop(), Build(),
        node_environments=[n.environment() for n in nodes],
    )  # fmt: skip
    result = step.run()

    assert result.failed == "" and len(result.rows) == 12
    pairs = {(n.id, str(n.root / "shared")) for n in nodes}
    assert {tuple(row.split(" ")) for row in result.rows} <= pairs
    marks = [n.root / "shared" / "seen" for n in nodes]
    written = [len(m.read_text().split()) for m in marks if m.exists()]
    assert sum(written) == 12  # every mini-batch wrote into its own node's folder
