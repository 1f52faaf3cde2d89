"""The aml executor's submission rate and status-round cost, against the local Azure ML service.

Run: python3 bench/executor_submit_status.py [--jobs 1000] [--active 500]
Prints, from one run:
- jobs submitted per second and bridge CPU per job (ms), for no-op jobs going through the
  executor's own path (translation, environment registered once, the SDK's loader, PUT) from
  a thread pool of the executor's default size;
- API requests for one status round over `--active` active jobs (run history's batch lookup
  by ids; per-job polling: one GET each), for the newest and for the oldest jobs of the run.
Jobs are held in Queued (the service's queue_delay fault), so every job stays active.
Starts and stops its own Azurite and service.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aml_bridge.gateway.client import AmlClient  # noqa: E402
from aml_bridge.model.environments import remote_requirements  # noqa: E402
from aml_bridge.model.settings import DEFAULT_BASE_IMAGE, ExecutorSettings  # noqa: E402
from aml_bridge.model.specs.command import build_spec  # noqa: E402
from aml_bridge.model.specs.common import JobFacts, RunContext  # noqa: E402
from aml_local.azurite import Azurite  # noqa: E402
from aml_local.launcher import AmlService  # noqa: E402

RUNS_BY_IDS = "/experiments/{experimentName}/runs/runIds"


def batch_lookups(service: AmlService) -> int:
    return sum(
        1 for r in service.requests() if r["method"] == "POST" and r["route"].endswith(RUNS_BY_IDS)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--active", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        azurite = Azurite(location=Path(tmp) / "azurite")
        azurite.start()
        try:
            with AmlService(azurite, Path(tmp) / "state", max_nodes=1).running() as service:
                os.environ.update(service.client_environment())
                service.set_faults(queue_delay=3600)
                run(service, args.jobs, args.active)
        finally:
            azurite.stop()


def run(service: AmlService, n_jobs: int, n_active: int) -> None:
    settings = ExecutorSettings(
        subscription=service.subscription_id,
        resource_group=service.resource_group,
        workspace=service.workspace,
        endpoint=service.base_url,
    )
    client = AmlClient(settings)
    context = RunContext(
        run_id="bench",
        experiment="bench",
        compute=service.compute,
        base_image=DEFAULT_BASE_IMAGE,
        pip=remote_requirements("9.27.1", []),
    )
    specs = [
        build_spec(
            context,
            JobFacts(
                rule="noop",
                wildcards={"i": str(i)},
                attempt=1,
                threads=1,
                resources={},
                outputs=(f"out/{i}",),
                command="true",
            ),
        )
        for i in range(n_jobs)
    ]
    client.ensure_environment(specs[0].environment)  # warm-up: MLClient, SDK imports

    def submit(spec):
        client.ensure_environment(spec.environment)
        return client.submit(spec.to_yaml(inline_environment=False))

    wall, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(settings.submit_concurrency) as pool:
        list(pool.map(submit, specs))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"submitted {n_jobs} no-op jobs in {wall:.1f} s: {n_jobs / wall:.1f} jobs/s")
    print(f"bridge CPU per job: {1000 * cpu / n_jobs:.1f} ms")

    # warm-up: the client's first lookup also finds run history's address (once per client)
    client.statuses(context.experiment, [specs[0].name])
    for label, chosen in (("newest", specs[-n_active:]), ("oldest", specs[:n_active])):
        service.clear_requests()
        states = client.statuses(context.experiment, [s.name for s in chosen])
        assert len(states) == len(chosen), "a submitted job is missing from the lookup"
        print(
            f"status round over the {n_active} {label} active jobs: "
            f"{len(service.requests())} requests, {batch_lookups(service)} of them batch "
            f"lookups (per-job polling: {n_active})"
        )


if __name__ == "__main__":
    main()
