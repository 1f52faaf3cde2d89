"""200 no-op jobs on a 4-node compute: never more than 4 run at once, and all complete."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.local_service.helpers import ensure_environment, shell_job

JOBS = 200


def _peak_overlap(events: list[tuple[int, int]]) -> int:
    """Most commands running at once, from (timestamp, +1 start / -1 end) events."""
    running = peak = 0
    for _, step in sorted(events):  # at equal times an end (-1) sorts before a start
        running += step
        peak = max(peak, running)
    return peak


def test_200_jobs_respect_max_nodes_and_all_complete(fresh_aml_service, tmp_path):
    service = fresh_aml_service(max_nodes=4)
    trace = tmp_path / "trace"
    command = 'echo "$(date +%s%N) 1" >> $TRACE; sleep 0.02; echo "$(date +%s%N) -1" >> $TRACE'
    ml = service.ml_client()
    env = ensure_environment(ml)
    run = uuid.uuid4().hex[:8]
    names = [f"scale-{run}-{i:03d}" for i in range(JOBS)]

    def submit(name: str) -> None:
        job = shell_job(
            name, command, env, tags={"run": run}, environment_variables={"TRACE": str(trace)}
        )
        ml.jobs.create_or_update(job)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(submit, names))

    deadline = time.monotonic() + 120
    while True:
        statuses = {j.name: j.status for j in ml.jobs.list(tag=f"run={run}")}
        if set(statuses) == set(names) and set(statuses.values()) == {"Completed"}:
            break
        assert time.monotonic() < deadline, f"not all complete: {sorted(set(statuses.values()))}"
        time.sleep(0.5)

    events = [tuple(map(int, line.split())) for line in trace.read_text().splitlines()]
    assert len(events) == 2 * JOBS
    assert _peak_overlap(events) <= 4
    stats = service.stats()
    assert stats["peak_nodes_in_use"] == 4  # the queue kept all nodes busy, never more
    assert stats["nodes_in_use"] == 0 and stats["queued"] == 0
