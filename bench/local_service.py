"""Throughput and overhead of the local Azure ML service (aml_local).

Run: python3 bench/local_service.py [--jobs 200] [--nodes 4]
Prints, from one run: jobs accepted per second through the SDK (`jobs.create_or_update`) and
through raw REST PUTs on one kept-alive connection; and the service's own overhead per job in
ms: node time per no-op job (time to drain a full queue x nodes / jobs) minus the cost of the
command itself.
Starts and stops its own Azurite and service.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aml_local.azurite import Azurite  # noqa: E402
from aml_local.launcher import AmlService  # noqa: E402


def command_cost_ms(rounds: int = 50) -> float:
    """What running the no-op command costs by itself (bash startup), per job."""
    start = time.perf_counter()
    for _ in range(rounds):
        subprocess.run(["/bin/bash", "-c", "true"], check=True)
    return (time.perf_counter() - start) / rounds * 1000


def wait_all_done(service: AmlService, ml, tag: str, count: int) -> None:
    """Wait on the cheap stats endpoint (polling job lists would load the CPUs), then check."""
    while True:
        stats = service.stats()
        if stats["queued"] == 0 and stats["nodes_in_use"] == 0:
            break
        time.sleep(0.01)
    statuses = [j.status for j in ml.jobs.list(tag=tag)]
    if len(statuses) != count or set(statuses) != {"Completed"}:
        raise SystemExit(f"not all {count} jobs completed: {sorted(set(statuses))}")


def raw_put_rate(service: AmlService, body: dict, count: int, tag: str) -> float:
    """Jobs accepted per second by REST PUTs with a prepared body (no SDK work per job)."""
    token = service.token()
    tls = ssl.create_default_context(cafile=service.ca_bundle)
    conn = http.client.HTTPSConnection("127.0.0.1", service.port, context=tls)
    ws = (
        f"/subscriptions/{service.subscription_id}/resourceGroups/{service.resource_group}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{service.workspace}"
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    start = time.perf_counter()
    for i in range(count):
        body["properties"]["tags"] = {"bench": tag}
        conn.request("PUT", f"{ws}/jobs/{tag}-{i:04d}", json.dumps(body), headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 201:
            raise SystemExit(f"PUT failed with {resp.status}")
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=4)
    args = parser.parse_args()

    from azure.ai.ml import command
    from azure.ai.ml.entities import Environment
    from azure.ai.ml.entities._job.to_rest_functions import to_rest_job_object

    with tempfile.TemporaryDirectory() as tmp:
        azurite = Azurite(location=Path(tmp) / "azurite")
        azurite.start()
        service = AmlService(azurite, Path(tmp) / "service" / "state", max_nodes=args.nodes)
        try:
            with service.running():
                os.environ.update(service.client_environment())
                ml = service.ml_client()
                ml.environments.create_or_update(Environment(name="noop", version="1", image="x:1"))

                def job(name: str, tag: str):
                    return command(
                        name=name, command="true", environment="azureml:noop:1",
                        compute=service.compute, tags={"bench": tag},
                    )  # fmt: skip

                gate = Path(tmp) / "gate"
                hold = f"while [ ! -e {gate} ]; do sleep 0.01; done"
                for i in range(args.nodes):  # occupy every node so the measured jobs all queue
                    ml.jobs.create_or_update(command(
                        name=f"hold-{i}", command=hold, environment="azureml:noop:1",
                        compute=service.compute,
                    ))  # fmt: skip

                start = time.perf_counter()
                for i in range(args.jobs):
                    ml.jobs.create_or_update(job(f"sdk-{i:04d}", "sdk"))
                sdk_rate = args.jobs / (time.perf_counter() - start)

                body = to_rest_job_object(job("template", "raw")._to_job()).as_dict()
                body["properties"]["environmentId"] = ml.environments.get("noop", version="1").id
                raw_rate = raw_put_rate(service, body, args.jobs, "raw")

                start = time.perf_counter()
                gate.touch()
                wait_all_done(service, ml, "bench=sdk", args.jobs)
                drain_s = time.perf_counter() - start
                wait_all_done(service, ml, "bench=raw", args.jobs)
                queued = 2 * args.jobs
                cost = command_cost_ms()
                node_ms = drain_s * args.nodes / queued * 1000
                print(f"jobs: {queued} no-op jobs queued, then {args.nodes} nodes released")
                print(f"accepted per second, SDK create_or_update (sequential): {sdk_rate:.1f}")
                print(f"accepted per second, raw REST PUT (one connection):    {raw_rate:.1f}")
                print(f"node time per no-op job: {node_ms:.1f} ms (command alone: {cost:.1f} ms)")
                print(f"service overhead per job: {node_ms - cost:.1f} ms")
        finally:
            azurite.stop()


if __name__ == "__main__":
    main()
