"""Status rounds of the executor against the local service: requests per round and outcomes,
with hundreds of active jobs (no Snakemake workflow: `check_active_jobs` driven directly)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version

from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo
from throttler import Throttler

from aml_bridge.client import AmlClient, JobState
from aml_bridge.environments import remote_requirements
from aml_bridge.executor import Executor
from aml_bridge.polling import MISSING_ROUNDS_BEFORE_GET, StatusPoller
from aml_bridge.settings import DEFAULT_BASE_IMAGE, ExecutorSettings
from aml_bridge.specs.command import build_spec
from aml_bridge.specs.common import JobFacts, RunContext
from tests.local_service.helpers import ensure_environment, wait_for
from tests.local_service.test_pipelines import items_folder, pipeline_job

HELD = 499  # jobs kept Queued (active) through every round: 500 active with the ghost
PIPELINES = 10  # of them pipeline jobs (their steps Queued), the others command jobs
MAX_REQUESTS_PER_ROUND = 3
RUNS_BY_IDS = "/experiments/{experimentName}/runs/runIds"


@dataclass
class Reports:
    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def status_executor(service, run: RunContext, reports: Reports) -> Executor:
    """An Executor with just what a status round needs, reporting into `reports`."""
    settings = ExecutorSettings(
        subscription=service.subscription_id,
        resource_group=service.resource_group,
        workspace=service.workspace,
        endpoint=service.base_url,
        status_interval=1,
    )
    executor = Executor.__new__(Executor)
    executor.settings, executor.run, executor.client = settings, run, AmlClient(settings)
    executor.status_rate_limiter = Throttler(rate_limit=100)
    executor.logger = logging.getLogger(__name__)
    executor.next_seconds_between_status_checks = settings.status_interval
    executor.poller = StatusPoller(executor.client, run.experiment, 1, executor.logger)
    executor._init_watch()
    executor.report_job_success = lambda info: reports.succeeded.append(info.external_jobid)

    def report_job_error(info: SubmittedJobInfo, msg: str, aux_logs: list | None = None) -> None:
        reports.failed[info.external_jobid] = msg

    executor.report_job_error = report_job_error
    return executor


def facts(i: int, command: str = "true") -> JobFacts:
    return JobFacts("noop", {"i": str(i)}, 1, 1, {}, (f"out/{i}",), command)


def submitted(client: AmlClient, pool: ThreadPoolExecutor, run: RunContext, job: JobFacts):
    """The job's info as the executor keeps it: facts and the submission's future."""
    spec = build_spec(run, job)

    def submit() -> JobState:
        client.ensure_environment(spec.environment)
        return client.submit(spec.to_yaml(inline_environment=False))

    return SubmittedJobInfo(None, spec.name, {"facts": job, "submit": pool.submit(submit)})


def never_submitted(run: RunContext, job: JobFacts) -> SubmittedJobInfo:
    """A job whose submission seemed to succeed but that the workspace never got."""
    name = build_spec(run, job).name
    future: Future = Future()
    future.set_result(JobState(name, "NotStarted", "https://studio/ghost"))
    return SubmittedJobInfo(None, name, {"facts": job, "submit": future})


def held_pipelines(service, run: RunContext, tmp_path) -> list[SubmittedJobInfo]:
    """Pipeline jobs of the run's experiment whose steps wait in Queued."""
    ml = service.ml_client()
    env, folder = ensure_environment(ml), items_folder(service, ["a.txt"])
    infos = []
    for i in range(PIPELINES):
        name, job = pipeline_job(tmp_path, env, folder, experiment=run.experiment)
        state = JobState(name, ml.jobs.create_or_update(job).status)
        future: Future = Future()
        future.set_result(state)
        infos.append(SubmittedJobInfo(None, name, {"facts": facts(1000 + i), "submit": future}))
    return infos


def status_round(executor: Executor, infos: list[SubmittedJobInfo]) -> list[str]:
    """One round; the names still active after it."""

    async def collect() -> list[str]:
        return [info.external_jobid async for info in executor.check_active_jobs(infos)]

    return asyncio.run(collect())


def batch_lookups(service) -> int:
    return sum(
        1 for r in service.requests() if r["method"] == "POST" and r["route"].endswith(RUNS_BY_IDS)
    )


def test_hundreds_of_active_jobs_cost_a_few_requests_per_round(
    fresh_aml_service, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # failed jobs' logs go under .snakemake/
    service = fresh_aml_service(max_nodes=4)
    run = RunContext(
        run_id="round",
        experiment=f"round-{uuid.uuid4().hex[:8]}",
        compute=service.compute,
        base_image=DEFAULT_BASE_IMAGE,
        pip=remote_requirements(version("snakemake"), []),
    )
    reports = Reports()
    executor = status_executor(service, run, reports)
    with ThreadPoolExecutor(8) as pool:
        done = submitted(executor.client, pool, run, facts(0))
        fails = submitted(executor.client, pool, run, facts(1, "echo broken >&2; exit 3"))
        for info in (done, fails):
            info.aux["submit"].result()
        service.set_faults(queue_delay=3600)  # every later job stays Queued: active
        held = [
            submitted(executor.client, pool, run, facts(i)) for i in range(2, HELD - PIPELINES + 2)
        ]
    held += held_pipelines(service, run, tmp_path)
    ghost = never_submitted(run, facts(HELD + 2))
    held_names = [info.external_jobid for info in held]
    for info in (done, fails):
        wait_for(executor.client.ml, info.external_jobid)

    service.clear_requests()
    active = status_round(executor, [done, fails, *held, ghost])
    assert 1 <= batch_lookups(service) <= MAX_REQUESTS_PER_ROUND
    assert active == [*held_names, ghost.external_jobid]
    assert reports.succeeded == [done.external_jobid]
    message = reports.failed[fails.external_jobid]
    assert "Failed: Execution failed" in message
    # the Studio link as Azure ML shapes it (the SDK appends the tenant with `&tid=`)
    wsid = f"/subscriptions/{service.subscription_id}/resourcegroups/{service.resource_group}"
    link = f"{service.base_url}/runs/{fails.external_jobid}?wsid={wsid}/workspaces/"
    assert f"Studio: {link}{service.workspace}&tid=" in message

    service.clear_requests()  # a round without news: batch lookups and nothing else
    assert status_round(executor, [*held, ghost]) == active
    assert 1 <= len(service.requests()) == batch_lookups(service) <= MAX_REQUESTS_PER_ROUND

    for _ in range(MISSING_ROUNDS_BEFORE_GET - 2):
        active = status_round(executor, [*held, ghost])
    assert active == held_names
    assert "no longer known to the workspace" in reports.failed[ghost.external_jobid]
    assert "Studio: https://studio/ghost" in reports.failed[ghost.external_jobid]
