"""Job lifecycle: accept, queue, run, cancel, preempt; the job documents and their run history.

Status moves NotStarted → Queued → Preparing → Running → Finalizing → Completed / Failed /
Canceled. A job's environment gives it its cluster's managed-identity endpoint, never a storage
secret (`job_storage_environment`).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError

from .bindings import DataRef, parse_data_uri
from .blobs import BLOB_PROXY_PREFIX, Datastores
from .errors import ServiceError, not_found
from .faults import PREEMPTION_MESSAGE, FaultInjector
from .identity import MSI_PATH, Identities
from .job_checks import check_command_job, plan_job
from .runner import LOG_NAME, BindingError, JobRunner, Outcome, Stop
from .scheduler import Scheduler
from .store import Store
from .workspace import ARTIFACT_DATASTORE, PROVIDER, Workspace, now_iso

TERMINAL = {"Completed", "Failed", "Canceled", "NotResponding", "Paused"}
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
    ) -> None:
        self.ws, self.store, self.stores, self.faults = ws, store, stores, faults
        self.work_root, self.base_env = work_root, base_env
        self.identities = identities
        self._stops: dict[str, Stop] = {}  # jobs queued or running
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._closing = False
        self.scheduler = Scheduler(ws.max_nodes, self._execute)

    # -- documents -------------------------------------------------------------------------
    def get(self, name: str) -> dict[str, Any]:
        doc = self.store.get("jobs", name)
        if doc is None:
            raise not_found("Job", name)
        return doc

    def run_record(self, name: str) -> dict[str, Any]:
        self.get(name)
        return self.store.get("runs", name) or {}

    def _set_status(self, name: str, status: str, error: dict | None = None) -> None:
        self.store.update("jobs", name, {"status": status})
        run = self.store.get("runs", name) or {"runId": name}
        run["status"] = status
        if status == "Running" and "startTimeUtc" not in run:
            run["startTimeUtc"] = now_iso()
        if status in TERMINAL:
            run["endTimeUtc"] = now_iso()
        if error:
            run["error"] = {"error": error}
        self.store.put("runs", name, run)

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
        existing = self.store.get("jobs", name)
        if existing is not None:
            editable = {k: props[k] for k in ("tags", "description", "displayName") if k in props}
            return self.store.update("jobs", name, editable), False
        if props["jobType"] != "Command":
            raise ServiceError(
                400,
                "UserError",
                f"properties.jobType: {props['jobType']} jobs are not supported by the local "
                "service (only Command).",
            )
        props = check_command_job(name, props, self.ws, self.store, set(self.stores.containers))
        # No "default" output (Azure adds one on the artifact store): with it, jobs.stream lists
        # logs by signing SAS tokens itself from an account key, which would bypass the proxy.
        # Without it, stream reads run-history logFiles and download uses the artifact store.
        props = {
            **{k: v for k, v in props.items() if k not in JOB_SYSTEM_FIELDS},
            "experimentName": props.get("experimentName") or "Default",
            "displayName": props.get("displayName") or name,
            "computeId": props.get("computeId") or self.ws.child_id("computes", self.ws.compute),
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
        self._enqueue(name)
        return self.get(name), True

    def _enqueue(self, name: str) -> None:
        nodes = (self.get(name)["properties"].get("resources") or {}).get("instanceCount") or 1
        with self._lock:
            self._stops[name] = Stop()  # from now on a cancel can reach the job
        self._set_status(name, "Queued")
        self.scheduler.submit(name, nodes, self.faults.queue_delay())

    def recover(self) -> list[str]:
        """After a restart: queue again every job that had not finished (its node was lost)."""
        names = [
            d["name"]
            for d in self.store.values("jobs")
            if d["properties"]["status"] not in TERMINAL
        ]
        for name in names:
            self._enqueue(name)
        return names

    # -- cancel / preempt ------------------------------------------------------------------
    def cancel(self, name: str) -> None:
        if self.get(name)["properties"]["status"] in TERMINAL:
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
        """Reclaim the nodes of running jobs whose names match; the names preempted."""
        with self._lock:
            hits = {n: self._stops[n] for n in self._running if re.search(pattern, n)}
        for stop in hits.values():
            stop.request("preempted")
        return sorted(hits)

    def close(self) -> None:
        """Service shutdown: stop running jobs without recording an end (restart re-queues)."""
        self._closing = True
        with self._lock:
            stops = list(self._stops.values())
        for stop in stops:
            stop.request("shutdown")
        self.scheduler.stop()

    # -- execution -------------------------------------------------------------------------
    def _execute(self, name: str) -> None:
        with self._lock:
            stop = self._stops.get(name)
        if stop is None or self._closing:
            return
        try:
            self._run(name, stop)
        except Exception as exc:  # a fault of the service itself must still end the job
            if stop.reason != "shutdown":
                self._set_status(name, "Failed", {"code": "ServiceError", "message": str(exc)})
        finally:
            with self._lock:
                self._stops.pop(name, None)
                self._running.discard(name)

    def _run(self, name: str, stop: Stop) -> None:
        if stop.event.is_set():  # canceled between dispatch and start
            self._set_status(name, "Canceled")
            return
        props = self.get(name)["properties"]
        plan = plan_job(name, props, self._code_ref(props.get("codeId")))
        runner = JobRunner(plan, self.work_root / name, self.stores, log_ref(name))
        self._set_status(name, "Preparing")
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
        cluster = props["computeId"].rstrip("/").rsplit("/", 1)[-1]
        node = self.identities.node_environment(cluster, self.ws.base_url + MSI_PATH)
        job_env = job_storage_environment(self.stores, self.ws, name, props["experimentName"], node)
        plan.environment = {**self.base_env, **job_env, **plan.environment}
        with self._lock:
            self._running.add(name)
        self._set_status(name, "Running")
        preempt_after = self.faults.preemption_delay(name)
        timer = threading.Timer(preempt_after or 0.0, stop.request, ("preempted",))
        timer.daemon = True
        if preempt_after is not None:
            timer.start()
        outcome = runner.run(values, stop)
        timer.cancel()
        if outcome.stopped != "shutdown":
            self._finish(runner, name, outcome)

    def _end_early(self, runner: JobRunner, name: str, error: dict[str, str]) -> None:
        """Fail a job before its command starts, with the reason in its log too."""
        runner.prepare_log()
        runner.note(error["message"])
        runner.upload_log()
        self._set_status(name, "Failed", error)
        runner.clean()

    def _finish(self, runner: JobRunner, name: str, outcome: Outcome) -> None:
        self._set_status(name, "Finalizing")
        status, error = "Completed", None
        if outcome.stopped == "preempted":
            runner.note("Job preempted: its node was reclaimed.")
            status, error = "Canceled", {"code": "JobPreempted", "message": PREEMPTION_MESSAGE}
        elif outcome.stopped == "user":
            runner.note("Job canceled.")
            status = "Canceled"
        elif outcome.stopped == "timeout":
            limit = runner.plan.timeout_s or 0
            message = f"The job exceeded its time limit of {limit:g} s and was killed."
            runner.note(message)
            status, error = "Failed", {"code": "JobTimeout", "message": message}
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
