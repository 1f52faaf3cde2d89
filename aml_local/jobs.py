"""Job lifecycle: accept, queue, run, cancel, preempt; the job documents and their run history.

Status moves NotStarted → Queued → Preparing → Running → Finalizing → Completed / Failed /
Canceled. A preempted job goes back to Queued and runs again; a job that stops sending
heartbeats is NotResponding until it resumes (Running) or is canceled; an expired
`limits.timeout` cancels the job (Canceled, the reason in the run's error). A job's
environment gives it its cluster's managed-identity endpoint, never a storage secret
(`job_storage_environment`).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError

from .bindings import DataRef, parse_data_uri, substitute
from .blobs import BLOB_PROXY_PREFIX, Datastores
from .builds import Build, EnvironmentBuilds
from .errors import ServiceError, not_found
from .faults import PREEMPTION_NOTE, FaultInjector
from .identity import MSI_PATH, Identities
from .job_checks import check_command_job, check_job_names, job_cluster, plan_job
from .parallel_runtime import RESULT_FILE, ParallelStep, StepResult, items_of
from .pipelines import (
    DEFAULT_TIMEOUT_S,
    check_pipeline_job,
    node_definition,
    pipeline_status,
    step_nodes,
    step_plan,
    upstream_nodes,
)
from .quota import Quotas
from .reuse import REUSED, REUSED_FROM, force_rerun, node_keys
from .runner import LOG_NAME, BindingError, JobRunner, Outcome, Stop
from .scheduler import ClusterScheduler, Node, NodeTimes
from .store import Store
from .traffic import Caller
from .workspace import ARTIFACT_DATASTORE, PROVIDER, Workspace, now_iso

# NotResponding is not final here: a run may leave it for an earlier status (resume).
TERMINAL = {"Completed", "Failed", "Canceled", "Paused"}
JOB_SYSTEM_FIELDS = ("status", "services")


def job_storage_environment(
    stores: Datastores, ws: Workspace, name: str, exp: str, node_identity: dict[str, str]
) -> dict:
    """Variables a job sees: its node's identity endpoint (`Identities.node_environment`; empty
    for a cluster without identity), where the datastores are, and the run context."""
    return {
        **node_identity,
        "AZURE_STORAGE_ACCOUNT": stores.account,
        "AZURE_STORAGE_BLOB_ENDPOINT": stores.blob_endpoint,
        "AZUREML_DATASTORE_CONTAINERS": json.dumps(stores.containers, sort_keys=True),
        "AZUREML_RUN_ID": name,
        "AZUREML_EXPERIMENT_NAME": exp,
        "AZUREML_ARM_SUBSCRIPTION": ws.subscription_id,
        "AZUREML_ARM_RESOURCEGROUP": ws.resource_group,
        "AZUREML_ARM_WORKSPACE_NAME": ws.name,
    }


def log_ref(name: str) -> DataRef:
    return DataRef(ARTIFACT_DATASTORE, f"ExperimentRun/dcid.{name}/{LOG_NAME}")


def step_logs_ref(name: str) -> DataRef:
    """Where a parallel step's `logs/` tree goes (job_result.txt, user/..., sys/...)."""
    return DataRef(ARTIFACT_DATASTORE, f"ExperimentRun/dcid.{name}/logs")


class JobManager:
    def __init__(
        self,
        ws: Workspace,
        store: Store,
        stores: Datastores,
        faults: FaultInjector,
        work_root: Path,
        base_env: dict[str, str],
        identities: Identities,
        builds: EnvironmentBuilds,
        nodes: NodeTimes | None = None,
        step_timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.ws, self.store, self.stores, self.faults = ws, store, stores, faults
        self.work_root, self.base_env = work_root, base_env
        self.identities = identities
        self.step_timeout_s = step_timeout_s  # a parallel run() call's default limit
        self._stops: dict[str, Stop] = {}  # jobs queued or running
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._status_lock = threading.RLock()
        self._closing = False
        limits = {c.name: c.max_nodes for c in ws.clusters}
        room = lambda cluster, n: self.quota.room(cluster, n)  # noqa: E731
        self.scheduler = ClusterScheduler(
            limits, self._execute, work_root.parent / "nodes", nodes or NodeTimes(), room
        )
        self.quota = Quotas(ws, self.scheduler.in_use)
        self.builds = builds

    # -- documents -------------------------------------------------------------------------
    def get(self, name: str) -> dict[str, Any]:
        doc = self.store.get("jobs", name)
        if doc is None:
            raise not_found("Job", name)
        return doc

    def resource(self, name: str) -> dict[str, Any]:
        """`GET jobs/<name>`: the job, or for a pipeline's step the answer Azure ML gives for a
        child run: the resource with `properties` null (the SDK then reads it from run
        history, `_job_operations.get`)."""
        if self.store.get("steps", name) is None:
            return self.get(name)
        return {
            "id": self.ws.child_id("jobs", name),
            "name": name,
            "type": f"{PROVIDER}/workspaces/jobs",
            "properties": None,
        }

    def run_props(self, name: str) -> dict[str, Any]:
        """The properties of a job or of a pipeline's step (a child run, not a job resource)."""
        step = self.store.get("steps", name)
        return step["properties"] if step else self.get(name)["properties"]

    def run_record(self, name: str) -> dict[str, Any]:
        self.run_props(name)
        return self.store.get("runs", name) or {}

    def children(self, name: str) -> list[str]:
        """The step run ids of a pipeline job (none for other jobs)."""
        self.get(name)
        return (self.store.get("runs", name) or {}).get("children", [])

    def _set_status(self, name: str, status: str, error: dict | None = None) -> None:
        """A requested cancel ends the job: from CancelRequested only a terminal status
        follows (a job canceled while preparing never shows Running, as on Azure ML)."""
        with self._status_lock:
            run = self.store.get("runs", name) or {"runId": name}
            if run.get("status") == "CancelRequested" and status not in TERMINAL:
                return
            step = self.store.get("steps", name)
            self.store.update("steps" if step else "jobs", name, {"status": status})
            run["status"] = status
            if status == "Running" and "startTimeUtc" not in run:
                run["startTimeUtc"] = now_iso()
            if status in TERMINAL:
                run["endTimeUtc"] = now_iso()
            if error:
                run["error"] = {"error": error}
            self.store.put("runs", name, run)
            if step:
                self._derive_pipeline_status(step["parent"])

    def _derive_pipeline_status(self, pipeline: str) -> None:
        """A pipeline's status follows its steps (CancelRequested until they all ended)."""
        steps = {
            self.store.get("steps", s)["node"]: self.run_props(s)["status"]
            for s in self.children(pipeline)
        }
        if self._start_ready(pipeline, steps):
            return  # _enqueue's status change derived it again
        status, error = pipeline_status(steps)
        current = self.get(pipeline)["properties"]["status"]
        if current != status:
            self._set_status(pipeline, status, error)

    def _start_ready(self, pipeline: str, statuses: dict[str, str]) -> bool:
        """Queue the steps whose upstream nodes all completed; a step after a node that failed
        or was canceled never runs (Canceled). True when a step changed. Called under the
        status lock, as every status change is: a step is queued once."""
        changed = False
        for step in self.children(pipeline):
            if self.run_props(step)["status"] != "NotStarted":
                continue
            ups = upstream_nodes(self.store.get("steps", step)["definition"])
            if any(statuses.get(u) in ("Failed", "Canceled") for u in ups):
                self._set_status(step, "Canceled")
                return True
            if all(statuses.get(u) == "Completed" for u in ups):
                if not self._reuse(pipeline, step, ups):
                    self._enqueue(step)
                changed = True
        return changed

    def _reuse(self, pipeline: str, step: str, upstream: set[str]) -> bool:
        """Complete the step as a reuse of an earlier completed run of the same node (Azure ML
        reuses it unless `settings.force_rerun`); False when it must run."""
        doc = self.store.get("steps", step)
        earlier = (self.store.get("reuse", doc["reuse_key"]) or {}).get("step")
        if force_rerun(self.get(pipeline)["properties"]) or not earlier:
            return False
        if self.run_props(earlier)["status"] != "Completed":
            return False
        for other in self.children(pipeline):
            up = self.store.get("steps", other)
            if up["node"] in upstream and up["properties"]["properties"].get(REUSED) != "true":
                return False  # that node ran again: its outputs are new data
        run_properties = {**doc["properties"]["properties"], REUSED: "true", REUSED_FROM: earlier}
        self.store.update("steps", step, {"properties": run_properties})
        self._set_status(step, "Completed")
        return True

    def _swap_status(self, name: str, expected: str, status: str) -> None:
        """Set `status` only if the job is still in `expected` (timers racing the job's end)."""
        with self._status_lock:
            if self.run_props(name)["status"] == expected:
                self._set_status(name, status)

    def list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        """Newest first, filtered by `tag` ("key" or "key=value") and `experimentName`."""
        tag = query.get("tag")
        experiment = query.get("experimentName")
        out = []
        for doc in reversed(self.store.values("jobs")):
            props = doc["properties"]
            if tag:
                key, sep, value = tag.partition("=")
                tags = props.get("tags") or {}
                if key not in tags or (sep and tags[key] != value):
                    continue
            if experiment and props.get("experimentName") != experiment:
                continue
            out.append(doc)
        return out

    # -- submission ------------------------------------------------------------------------
    def submit(self, name: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create the job (True) or, for an existing name, update its tags/description only."""
        props = body["properties"]
        check_job_names(name, props)
        existing = self.store.get("jobs", name)
        if existing is not None:
            editable = {k: props[k] for k in ("tags", "description", "displayName") if k in props}
            return self.store.update("jobs", name, editable), False
        pipeline = props["jobType"] == "Pipeline"
        if props["jobType"] not in ("Command", "Pipeline"):
            raise ServiceError(
                400,
                "UserError",
                f"properties.jobType: {props['jobType']} jobs are not supported by the local "
                "service (only Command and Pipeline).",
            )
        check = check_pipeline_job if pipeline else check_command_job
        props = check(name, props, self.ws, self.store, set(self.stores.containers))
        # No "default" output (Azure adds one on the artifact store): with it, jobs.stream lists
        # logs by signing SAS tokens itself from an account key, which would bypass the proxy.
        # Without it, stream reads run-history logFiles and download uses the artifact store.
        props = {
            **{k: v for k, v in props.items() if k not in JOB_SYSTEM_FIELDS},
            "experimentName": props.get("experimentName") or "Default",
            "displayName": props.get("displayName") or name,
            **({} if pipeline else {"computeId": self._compute_id(props.get("computeId"))}),
            "status": "NotStarted",
            "services": {
                "Studio": {"jobServiceType": "Studio", "endpoint": self.ws.studio_url(name)},
            },
        }
        doc = {
            "id": self.ws.child_id("jobs", name),
            "name": name,
            "type": f"{PROVIDER}/workspaces/jobs",
            "properties": props,
            "systemData": {"createdAt": now_iso(), "createdBy": "local", "createdByType": "User"},
        }
        self.store.put("jobs", name, doc)
        self.store.put("runs", name, {"runId": name, "status": "NotStarted", "warnings": []})
        if pipeline:
            self._start_steps(name, props)
        else:
            self._enqueue(name)
        return self.get(name), True

    def _compute_id(self, compute_id: str | None) -> str:
        return compute_id or self.ws.child_id("computes", self.ws.compute)

    def _start_steps(self, name: str, props: dict[str, Any]) -> None:
        """Each node of a pipeline becomes a step: a child run queued for its nodes."""
        default = (props.get("settings") or {}).get("default_compute")
        definitions = {
            node_name: node_definition(node, f"properties.jobs.{node_name}", self.ws, self.store)
            for node_name, node in props["jobs"].items()
        }
        computes = {
            node_name: self._compute_id(node.get("computeId") or default)
            for node_name, node in props["jobs"].items()
        }
        placed = {n: {**d, "computeId": computes[n]} for n, d in definitions.items()}
        keys = node_keys(props, placed)
        steps = []
        for node_name, definition in definitions.items():
            step = str(uuid.uuid4())
            step_props = {
                "status": "NotStarted",
                "displayName": node_name,
                "experimentName": props["experimentName"],
                "computeId": computes[node_name],
                "tags": {},
                "properties": {"azureml.nodeid": node_name, "azureml.pipelinerunid": name},
            }
            doc = {"parent": name, "node": node_name, "properties": step_props}
            doc |= {"definition": definition, "reuse_key": keys[node_name]}
            self.store.put("steps", step, doc)
            self.store.put(
                "runs", step, {"runId": step, "status": "NotStarted", "parentRunId": name}
            )
            steps.append(step)
        run = self.store.get("runs", name) or {"runId": name}
        self.store.put("runs", name, {**run, "children": steps})
        with self._status_lock:
            self._start_ready(name, {})

    def _enqueue(self, name: str, requeued: bool = False) -> None:
        props = self.run_props(name)
        step = self.store.get("steps", name)
        if step:  # a parallel step takes its instance_count nodes
            nodes = step_nodes(step["definition"])
        else:
            nodes = (props.get("resources") or {}).get("instanceCount") or 1
        cluster = job_cluster(self.ws, props.get("computeId")).name
        refusal = self.quota.refusal(cluster, nodes)
        if refusal:  # more vCPUs than the quota allows: it could never start
            error = {"code": "JobNodeCountExceedsCoreQuota", "message": refusal}
            self._set_status(name, "Failed", error)
            return
        with self._lock:
            self._stops[name] = Stop()  # from now on a cancel can reach the job
        self._set_status(name, "Queued")
        self.scheduler.submit(name, nodes, self.faults.queue_delay(requeued), cluster)

    def recover(self) -> list[str]:
        """After a restart: queue again every job that had not finished (its node was lost)."""
        names = [
            d["name"]
            for d in self.store.values("jobs")
            if d["properties"]["status"] not in TERMINAL and d["properties"]["jobType"] == "Command"
        ]
        for pipeline in self.store.values("jobs"):
            if pipeline["properties"]["jobType"] == "Pipeline":
                running = [
                    s
                    for s in self.children(pipeline["name"])
                    if self.run_props(s)["status"] not in (*TERMINAL, "NotStarted")
                ]
                names += running
        for name in names:
            self._enqueue(name)
        for pipeline in self.store.values("jobs"):  # steps whose upstream ended meanwhile
            if pipeline["properties"]["jobType"] == "Pipeline":
                with self._status_lock:
                    self._derive_pipeline_status(pipeline["name"])
        return names

    # -- cancel / preempt ------------------------------------------------------------------
    def cancel(self, name: str) -> None:
        """Cancel a job; a pipeline's cancel reaches every step and so every worker."""
        if self.run_props(name)["status"] in TERMINAL:
            return
        steps = self.children(name) if self.store.get("jobs", name) else []
        if steps:
            self._set_status(name, "CancelRequested")
            for step in steps:
                self.cancel(step)
            return
        if self.run_props(name)["status"] == "NotStarted":  # a step waiting for upstream
            self._set_status(name, "Canceled")
            return
        if self.scheduler.withdraw(name):
            with self._lock:
                self._stops.pop(name, None)
            self._set_status(name, "Canceled")
            return
        with self._lock:
            stop = self._stops.get(name)
        if stop:  # dispatched: the runner sees the request at its next check and kills the tree
            self._set_status(name, "CancelRequested")
            stop.request("user")

    def preempt(self, pattern: str = "") -> list[str]:
        """Reclaim the nodes of running jobs whose names match (a step: its own name or its
        pipeline job's); the names preempted. Only low-priority nodes are ever reclaimed."""
        with self._lock:
            running = [(n, self._stops[n]) for n in self._running if n in self._stops]
        hits = {
            n: stop
            for n, stop in running
            if self._low_priority(n) and any(re.search(pattern, m) for m in self._names_of(n))
        }
        for stop in hits.values():
            stop.request("preempted")
        return sorted(hits)

    def _names_of(self, name: str) -> list[str]:
        """A run's own name, and for a pipeline's step its pipeline job's name too."""
        step = self.store.get("steps", name)
        return [name, step["parent"]] if step else [name]

    def _low_priority(self, name: str) -> bool:
        """Whether the run is on a low-priority cluster (whose nodes Azure may reclaim)."""
        cluster = job_cluster(self.ws, self.run_props(name).get("computeId"))
        return cluster.tier == "LowPriority"

    def close(self) -> None:
        """Service shutdown: stop running jobs without recording an end (restart re-queues)."""
        self._closing = True
        with self._lock:
            stops = list(self._stops.values())
        for stop in stops:
            stop.request("shutdown")
        self.scheduler.stop()

    # -- execution -------------------------------------------------------------------------
    def _execute(self, name: str, nodes: list[Node]) -> bool:
        """Runs the job on its nodes; True when they were reclaimed (preempted)."""
        with self._lock:
            stop = self._stops.get(name)
        if stop is None or self._closing:
            return False
        try:
            self._run(name, stop, nodes)
        except Exception as exc:  # a fault of the service itself must still end the job
            if stop.reason != "shutdown":
                self._set_status(name, "Failed", {"code": "ServiceError", "message": str(exc)})
        finally:
            with self._lock:
                if self._stops.get(name) is stop:  # else re-queued: its next run owns both
                    del self._stops[name]
                    self._running.discard(name)
        return stop.reason == "preempted"

    def _run(self, name: str, stop: Stop, nodes: list[Node]) -> None:
        if stop.event.is_set():  # canceled between dispatch and start
            self._set_status(name, "Canceled")
            return
        step = self.store.get("steps", name)
        if step:
            self._run_step(name, step, stop, nodes)
            return
        props = self.get(name)["properties"]
        plan = plan_job(name, props, self._code_ref(props.get("codeId")))
        caller = Caller(name, nodes[0].id)
        runner = JobRunner(plan, self.work_root / name, self.stores, log_ref(name), caller)
        build = self._image_ready(runner, name, props["environmentId"], stop)
        if build is None:
            return
        injected = self.faults.job_failure(name, props.get("tags") or {})
        if injected:
            self._end_early(runner, name, {"code": "SystemError", "message": injected})
            return
        try:
            values = runner.prepare()
        except (BindingError, AzureError) as exc:  # e.g. an input blob that does not exist
            message = f"Preparing the job failed: {exc}"
            self._end_early(runner, name, {"code": "UserError", "message": message})
            return
        preemptions = (self.store.get("runs", name) or {}).get("preemptions", 0)
        if preemptions:
            runner.note(f"Job restarted after {preemptions} preemption(s) of its node.")
        cluster = job_cluster(self.ws, props.get("computeId")).name
        node = self.identities.node_environment(cluster, self.ws.base_url + MSI_PATH)
        job_env = job_storage_environment(self.stores, self.ws, name, props["experimentName"], node)
        job_env |= nodes[0].environment()  # the command runs on the job's first node
        plan.environment = {**self._node_environment(build), **job_env, **plan.environment}
        with self._lock:
            self._running.add(name)
        self._set_status(name, "Running")
        timers = self._fault_timers(name, stop)
        outcome = runner.run(values, stop)
        for timer in timers:
            timer.cancel()
        if outcome.stopped == "preempted":
            self._requeue(runner, name)
        elif outcome.stopped != "shutdown":
            self._finish(runner, name, outcome)

    def _fault_timers(self, name: str, stop: Stop) -> list[threading.Timer]:
        """Started timers for the injected preemption (low-priority nodes only) and heartbeat
        loss of a running job (a step: no heartbeat loss, matched by its pipeline's name)."""
        timers = []
        names = self._names_of(name)
        preempt_after = (
            self.faults.preemption_delay(name, names[-1]) if self._low_priority(name) else None
        )
        if preempt_after is not None:
            timers.append(threading.Timer(preempt_after, stop.request, ("preempted",)))
        stall = self.faults.not_responding(name) if len(names) == 1 else None
        if stall is not None:
            after, lasting = stall
            swap = self._swap_status
            timers.append(threading.Timer(after, swap, (name, "Running", "NotResponding")))
            resume = (name, "NotResponding", "Running")
            timers.append(threading.Timer(after + lasting, swap, resume))
        for timer in timers:
            timer.daemon = True
            timer.start()
        return timers

    def _requeue(self, runner: JobRunner, name: str) -> None:
        """Low-priority preemption: Azure ML queues the same job again; it restarts from the
        beginning on another node (outputs are only uploaded by a run that completes)."""
        runner.note(PREEMPTION_NOTE)
        runner.upload_log()
        runner.clean()
        with self._status_lock:
            run = self.store.get("runs", name) or {"runId": name}
            run["preemptions"] = run.get("preemptions", 0) + 1
            self.store.put("runs", name, run)
        with self._lock:
            self._running.discard(name)
        self._enqueue(name, requeued=True)

    def _image_ready(
        self, runner: JobRunner, name: str, environment_id: str, stop: Stop
    ) -> Build | None:
        """Preparing: the environment's image built (once per version). None when the job
        ended here: canceled meanwhile (its command never starts), or the build failed."""
        self._set_status(name, "Preparing")
        build = self.builds.ensure(environment_id, stop.event)
        if stop.event.is_set():
            if stop.reason != "shutdown":
                self._end_early(runner, name, None)
            return None
        if build.error:
            self._end_early(runner, name, {"code": "UserError", "message": build.error})
            return None
        return build

    def _node_environment(self, build: Build) -> dict[str, str]:
        """The variables every job on a node starts with: its image's PATH and Python for a
        built environment; this machine's for an image-only one."""
        return build.image.job_environment(self.base_env) if build.image else self.base_env

    def _end_early(self, runner: JobRunner, name: str, error: dict[str, str] | None) -> None:
        """End a job before its command starts: Failed with `error` (its message in the log
        too), or Canceled when `error` is None."""
        runner.prepare_log()
        runner.note(error["message"] if error else "Job canceled.")
        runner.upload_log()
        self._set_status(name, "Failed" if error else "Canceled", error)
        runner.clean()

    def _finish(self, runner: JobRunner, name: str, outcome: Outcome) -> None:
        self._set_status(name, "Finalizing")
        status, error = "Completed", None
        if outcome.stopped == "user":
            runner.note("Job canceled.")
            status = "Canceled"
        elif outcome.stopped == "timeout":  # "the max run duration, after which the job will
            # be cancelled" (REST JobLimits.timeout): Canceled, the reason in the run's error
            limit = runner.plan.timeout_s or 0
            message = (
                f"The job was canceled by the system: it exceeded its time limit "
                f"(limits.timeout = {limit:g} s)."
            )
            runner.note(message)
            status, error = "Canceled", {"code": "JobTimeout", "message": message}
        else:
            runner.collect_outputs()
            if outcome.exit_code != 0:
                message = (
                    f"Execution failed: the command exited with code {outcome.exit_code}. "
                    f"See {LOG_NAME} for its output."
                )
                status, error = "Failed", {"code": "UserError", "message": message}
        runner.upload_log()
        self._set_status(name, status, error)
        runner.clean()

    def _run_step(self, name: str, step: dict[str, Any], stop: Stop, nodes: list[Node]) -> None:
        """A parallel step: its workers on its nodes, then rows, outputs and logs uploaded."""
        pipeline = self.get(step["parent"])["properties"]
        node = step["definition"]
        code = self._code_ref(node["task"]["code"].removeprefix("azureml:"))
        plan, settings, items_input = step_plan(name, pipeline, node, code, self.step_timeout_s)
        caller = Caller(name, nodes[0].id)  # the step's own transfers: as on its first node
        runner = JobRunner(plan, self.work_root / name, self.stores, log_ref(name), caller)
        build = self._image_ready(runner, name, node["task"]["environment"], stop)
        if build is None:
            return
        try:
            values = runner.prepare()
        except (BindingError, AzureError) as exc:
            message = f"Preparing the job failed: {exc}"
            self._end_early(runner, name, {"code": "UserError", "message": message})
            return
        cluster = job_cluster(self.ws, step["properties"]["computeId"]).name
        node_env = self.identities.node_environment(cluster, self.ws.base_url + MSI_PATH)
        exp = pipeline["experimentName"]
        job_env = job_storage_environment(self.stores, self.ws, name, exp, node_env)
        env = {**self._node_environment(build), **job_env, **runner.environment(values)}
        arguments = [substitute(a, values) for a in settings.program_arguments]
        settings = replace(settings, program_arguments=arguments)
        items = items_of(Path(values[("inputs", items_input)]))
        with self._lock:
            self._running.add(name)
        self._set_status(name, "Running")
        logs = runner.workdir / "logs"
        step = ParallelStep(
            settings, items, runner.workdir / "wd", logs, env, stop, build, runner.sync_outputs,
            [node.environment() for node in nodes],
        )  # fmt: skip
        timers = self._fault_timers(name, stop)
        result = step.run()
        for timer in timers:
            timer.cancel()
        if result.stopped == "preempted":
            self._requeue(runner, name)
        elif result.stopped != "shutdown":
            self._finish_step(runner, name, node, values, result)

    def _finish_step(
        self,
        runner: JobRunner,
        name: str,
        node: dict[str, Any],
        values: dict[tuple[str, str], str],
        result: StepResult,
    ) -> None:
        self._set_status(name, "Finalizing")
        status, error = "Completed", None
        if result.stopped:
            runner.note("Job canceled.")
            status = "Canceled"
        else:
            row_to = node["task"].get("append_row_to")
            if row_to:
                target = Path(substitute(row_to, values))
                target = target / RESULT_FILE if target.is_dir() else target
                target.write_text("".join(f"{row}\n" for row in result.rows))
            runner.collect_outputs()
            if result.failed:
                status, error = "Failed", {"code": "UserError", "message": result.failed}
        runner.note((error or {}).get("message", f"Step {status}."))
        runner.upload_log()
        ref = step_logs_ref(name)
        container = self.stores.container_of(ref.datastore)
        self.stores.upload(container, ref.path, runner.workdir / "logs", runner.caller)
        if status == "Completed":  # a later pipeline's same node may reuse this run
            key = self.store.get("steps", name)["reuse_key"]
            self.store.put("reuse", key, {"step": name})
        self._set_status(name, status, error)
        runner.clean()

    def _code_ref(self, code_id: str | None) -> tuple[str, str] | None:
        """(container, prefix) of a code version: an azureml:// URI or a proxied blob URL."""
        if not code_id:
            return None
        name, version = code_id.rstrip("/").split("/")[-3::2]
        uri = (self.store.get("codes", f"{name}/{version}") or {})["properties"]["codeUri"]
        if uri.startswith("azureml://"):
            ref = parse_data_uri(uri, "codeUri")
            return self.stores.container_of(ref.datastore), ref.path
        path = urlsplit(uri).path.removeprefix(BLOB_PROXY_PREFIX).lstrip("/")
        _account, container, prefix = (path.split("/", 2) + [""])[:3]
        return container, prefix
