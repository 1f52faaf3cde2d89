"""Status rounds against the local service: requests per round and what a round finds, with
hundreds of active jobs of both types (no Snakemake workflow, no executor: the poller alone)."""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version

from aml_bridge.gateway.client import AmlClient, JobState
from aml_bridge.gateway.polling import MISSING_ROUNDS_BEFORE_GET, StatusPoller
from aml_bridge.gateway.status import LOST, Outcome
from aml_bridge.model.environments import remote_requirements
from aml_bridge.model.settings import DEFAULT_BASE_IMAGE, ExecutorSettings
from aml_bridge.model.specs.command import build_spec
from aml_bridge.model.specs.common import JobFacts, RunContext
from tests.local_service.helpers import ensure_environment, wait_for
from tests.local_service.test_pipelines import items_folder, pipeline_job

HELD = 499  # jobs kept Queued (active) through every round: 500 active with the ghost
PIPELINES = 10  # of them pipeline jobs (their steps Queued), the others command jobs
MAX_REQUESTS_PER_ROUND = 3
RUNS_BY_IDS = "/experiments/{experimentName}/runs/runIds"


def status_client(service) -> AmlClient:
    return AmlClient(
        ExecutorSettings(
            subscription=service.subscription_id,
            resource_group=service.resource_group,
            workspace=service.workspace,
            endpoint=service.base_url,
        )
    )


def status_run(service, experiment: str) -> RunContext:
    return RunContext(
        run_id=uuid.uuid4().hex[:8],
        experiment=f"{experiment}-{uuid.uuid4().hex[:8]}",
        compute=service.compute,
        base_image=DEFAULT_BASE_IMAGE,
        pip=remote_requirements(version("snakemake"), []),
    )


def poller_of(client: AmlClient, run: RunContext) -> StatusPoller:
    return StatusPoller(client, run.experiment, 1, logging.getLogger(__name__))


def facts(i: int, command: str = "true") -> JobFacts:
    return JobFacts("noop", {"i": str(i)}, 1, 1, {}, (f"out/{i}",), command)


def submit(client: AmlClient, pool: ThreadPoolExecutor, run: RunContext, job: JobFacts):
    """(name, future of the submission) of a command job, submitted as the executor does."""
    spec = build_spec(run, job)

    def put() -> JobState:
        client.ensure_environment(spec.environment)
        return client.submit(spec.to_yaml(inline_environment=False))

    return spec.name, pool.submit(put)


def held_pipelines(service, run: RunContext, tmp_path) -> list[str]:
    """Pipeline jobs of the run's experiment whose steps wait in Queued."""
    ml = service.ml_client()
    env, folder = ensure_environment(ml), items_folder(service, ["a.txt"])
    names = []
    for _ in range(PIPELINES):
        name, job = pipeline_job(tmp_path, env, folder, experiment=run.experiment)
        ml.jobs.create_or_update(job)
        names.append(name)
    return names


def batch_lookups(service) -> int:
    return sum(
        1 for r in service.requests() if r["method"] == "POST" and r["route"].endswith(RUNS_BY_IDS)
    )


def test_hundreds_of_active_jobs_cost_a_few_requests_per_round(fresh_aml_service, tmp_path):
    service = fresh_aml_service(max_nodes=4)
    run = status_run(service, "round")
    client = status_client(service)
    poller = poller_of(client, run)
    with ThreadPoolExecutor(8) as pool:
        done, done_put = submit(client, pool, run, facts(0))
        fails, fails_put = submit(client, pool, run, facts(1, "echo broken >&2; exit 3"))
        submitted = {done: done_put.result(), fails: fails_put.result()}
        service.set_faults(queue_delay=3600)  # every later job stays Queued: active
        puts = [submit(client, pool, run, facts(i)) for i in range(2, HELD - PIPELINES + 2)]
        held = [put.result().name for _, put in puts]
    held += held_pipelines(service, run, tmp_path)
    ghost = build_spec(run, facts(HELD + 2)).name  # "submitted", never received
    for name in (done, fails):
        wait_for(client.ml, name)

    service.clear_requests()
    found = poller.poll([done, fails, *held, ghost])
    assert 1 <= batch_lookups(service) <= MAX_REQUESTS_PER_ROUND
    assert {name: result for name, (_, result) in found.ended.items()} == {
        done: Outcome.SUCCEEDED,
        fails: Outcome.FAILED,
    }
    assert found.restarts == []
    # what the executor then reports: Azure ML's error and the Studio link as Azure ML shapes
    # it (the submission's answer; the SDK appends the tenant with `&tid=`)
    assert "Execution failed" in client.run_end(fails).message
    wsid = f"/subscriptions/{service.subscription_id}/resourcegroups/{service.resource_group}"
    link = f"{service.base_url}/runs/{fails}?wsid={wsid}/workspaces/{service.workspace}&tid="
    assert submitted[fails].studio_url.startswith(link)

    service.clear_requests()  # a round without news: batch lookups and nothing else
    assert poller.poll([*held, ghost]).ended == {}
    assert 1 <= len(service.requests()) == batch_lookups(service) <= MAX_REQUESTS_PER_ROUND

    for _ in range(MISSING_ROUNDS_BEFORE_GET - 2):
        found = poller.poll([*held, ghost])
    assert list(found.ended) == [ghost]  # looked up by name: no such job
    assert found.ended[ghost][0].status == LOST
