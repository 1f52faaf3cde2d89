"""The one place that talks to the Azure ML control plane, through azure-ai-ml.

One MLClient, created on first use (azure.ai.ml is imported here and only then, so dry runs and
plugin discovery never pay for it). Every call goes through `call_with_retries`; the SDK's own
retry policy is switched off so that throttling is answered in one place, honouring Retry-After.
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from aml_bridge.gateway.retry import Backoff, call_with_retries
from aml_bridge.gateway.status import Outcome, outcome
from aml_bridge.model.clusters import Cluster, by_size
from aml_bridge.model.environments import EnvironmentSpec
from aml_bridge.model.settings import ExecutorSettings

if TYPE_CHECKING:
    from aml_bridge.model.workspace_plan import ComponentWanted

# Run ids per batch status lookup: a conservative batch size (500 active jobs: 2 requests).
STATUS_BATCH = 250
# Where run history keeps a run's logs; a parallel step's summary among them.
ARTIFACTS = "azureml://datastores/workspaceartifactstore/paths/"
STEP_RESULT = "logs/job_result.txt"


@dataclass(frozen=True)
class JobState:
    name: str
    status: str
    studio_url: str | None = None


@dataclass(frozen=True)
class RunEnd:
    """How a finished job's run ended: Azure ML's error message, how long it ran, and when it
    started and ended (run history's startTimeUtc, endTimeUtc)."""

    message: str | None
    ran_s: float | None
    started: datetime | None = None
    ended: datetime | None = None


def _quiet_sdk() -> None:
    """The SDK warns about "experimental" classes for every job it loads: noise in the log."""
    logging.getLogger("azure.ai.ml").setLevel(logging.ERROR)


def sdk_job(spec_yaml: dict[str, Any]):
    """The SDK's job object for a spec dict, through azure-ai-ml's own YAML loader."""
    from azure.ai.ml import load_job

    _quiet_sdk()
    return load_job(io.StringIO(yaml.safe_dump(spec_yaml, sort_keys=False)))


def _status(value) -> str:
    """The SDK gives a str enum, a str or None."""
    return str(getattr(value, "value", value) or "Unknown")


def _state(job) -> JobState:
    return JobState(name=job.name, status=_status(job.status), studio_url=job.studio_url)


def rest_figure(entity, rest_name: str, attribute: str) -> float:
    """A VmSize or Usage figure: azure-ai-ml 1.35 copies the REST names (vCPUs, memoryGB,
    currentValue) onto the object and leaves its documented attributes (v_cp_us, memory_gb,
    current_value) None."""
    value = getattr(entity, rest_name, None)
    return value if value is not None else getattr(entity, attribute)


class AmlClient:
    def __init__(
        self,
        settings: ExecutorSettings,
        backoff: Backoff | None = None,
        on_retry: Callable[[BaseException, float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.backoff = backoff or Backoff()
        self.on_retry = on_retry
        self._client = None
        self._lock = threading.Lock()
        self._environments: dict[str, threading.Lock] = {}
        self._registered: set[str] = set()

    @property
    def ml(self):
        with self._lock:
            if self._client is None:
                self._client = self._create()
            return self._client

    def _create(self):
        import re
        from urllib.parse import urlsplit

        from azure.ai.ml import MLClient
        from azure.identity import DefaultAzureCredential

        _quiet_sdk()
        s = self.settings
        cloud = {}
        if s.endpoint:
            # --aml-endpoint: a custom cloud whose every endpoint is that address (a sovereign
            # cloud or a local stand-in). One cloud name per address: the SDK registers a name
            # once per process. Tokens still come from DefaultAzureCredential.
            base = s.endpoint.rstrip("/") + "/"
            endpoints = ("resource_manager", "aml_resource_id", "azure_portal")
            endpoints += ("active_directory", "registry_discovery_endpoint")
            metadata = dict.fromkeys(endpoints, base)
            cloud = {
                "cloud": "AmlEndpoint_" + re.sub(r"\W", "_", urlsplit(base).netloc),
                "cloud_metadata": {**metadata, "storage_endpoint": "core.windows.net"},
            }
        # retry_total=0: azure-core would otherwise retry underneath our own retries
        return MLClient(
            DefaultAzureCredential(),
            s.subscription,
            s.resource_group,
            s.workspace,
            retry_total=0,
            **cloud,
        )

    def _call(self, call: Callable[[], Any]) -> Any:
        return call_with_retries(call, self.backoff, on_retry=self.on_retry)

    def ensure_environment(self, env: EnvironmentSpec) -> None:
        """Register a built environment once; later jobs (and runs) reuse the same version."""
        if env.reference or env.registered_id in self._registered:
            return
        with self._lock:
            env_lock = self._environments.setdefault(env.registered_id, threading.Lock())
        with env_lock:
            if env.registered_id in self._registered:
                return
            if not self.has_environment(env):
                self.create_environment(env)
            self._registered.add(env.registered_id)

    def create_environment(self, env: EnvironmentSpec) -> None:
        from azure.ai.ml.entities import Environment

        entity = Environment(
            name=env.name, version=env.version, image=env.image, conda_file=env.conda
        )
        self._call(lambda: self.ml.environments.create_or_update(entity))

    def has_environment(self, env: EnvironmentSpec) -> bool:
        return self._exists(lambda: self.ml.environments.get(env.name, version=env.version))

    def has_component(self, wanted: ComponentWanted) -> bool:
        """Whether the workspace has this version of the component (the executor's group
        steps use it when there; `aml-genomics setup` registers it when not)."""
        return self._exists(lambda: self.ml.components.get(wanted.name, version=wanted.version))

    def _exists(self, get: Callable[[], Any]) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._call(get)
            return True
        except ResourceNotFoundError:
            return False

    def clusters(self, names: list[str]) -> tuple[Cluster, ...]:
        """The named AmlCompute clusters with their node's cores and memory, smallest first.

        Read once per run. ValueError naming the cluster when it does not exist in the
        workspace, is no AmlCompute cluster, or has a VM size the region does not list.
        """
        from azure.core.exceptions import ResourceNotFoundError

        found, sizes = [], {}
        for name in names:
            try:
                compute = self._call(lambda n=name: self.ml.compute.get(n))
            except ResourceNotFoundError:
                raise ValueError(
                    f"cluster {name} does not exist in workspace {self.settings.workspace}"
                ) from None
            if str(compute.type).lower() != "amlcompute":
                raise ValueError(f"compute {name} is a {compute.type}, not an AmlCompute cluster")
            location = compute.location
            if location not in sizes:
                listed = self._call(lambda loc=location: self.ml.compute.list_sizes(location=loc))
                sizes[location] = {s.name.lower(): s for s in listed}
            size = sizes[location].get(str(compute.size).lower())
            if size is None:
                raise ValueError(
                    f"cluster {name}: VM size {compute.size} is not listed in {location}"
                )
            found.append(
                Cluster(
                    name=name,
                    vm_size=compute.size,
                    cores=int(rest_figure(size, "vCPUs", "v_cp_us")),
                    mem_mb=int(rest_figure(size, "memoryGB", "memory_gb") * 1024),
                    max_instances=compute.max_instances,
                    tier=compute.tier,
                    identity=compute.identity.type if compute.identity else None,
                    region=location,
                    sku=size.name,
                )
            )
        return by_size(found)

    def submit(self, spec_yaml: dict[str, Any]) -> JobState:
        """Create the job. A PUT whose answer was lost (dropped connection, 5xx) may have been
        applied: before sending it again, look the job up and adopt it if it exists."""
        job = sdk_job(spec_yaml)
        tries = 0

        def put_or_adopt() -> JobState:
            nonlocal tries
            tries += 1
            existing = self._lookup(job.name) if tries > 1 else None
            return existing or _state(self.ml.jobs.create_or_update(job))

        return self._call(put_or_adopt)

    def get(self, name: str) -> JobState | None:
        return self._call(lambda: self._lookup(name))

    def _lookup(self, name: str) -> JobState | None:
        """One GET; None when the workspace has no such job."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return _state(self.ml.jobs.get(name))
        except ResourceNotFoundError:
            return None

    def statuses(self, experiment: str, names: list[str]) -> dict[str, JobState]:
        """States of the named jobs of an experiment, by run history's batch lookup by ids.

        A job's name is its run id: a round costs one request per STATUS_BATCH jobs, however
        long the run's history. Ids the service does not know (yet) are absent from the result.
        """
        found: dict[str, JobState] = {}
        for start in range(0, len(names), STATUS_BATCH):
            chunk = names[start : start + STATUS_BATCH]
            found.update(self._call(partial(self._run_statuses, experiment, chunk)))
        return found

    def _run_statuses(self, experiment: str, run_ids: list[str]) -> dict[str, JobState]:
        """One batch lookup, through the run-history operations the SDK itself uses (it has
        no public call for it); ids reported under `errors` are left out."""
        from azure.ai.ml._restclient.runhistory.models import GetRunsByIds

        runs = self.ml.jobs._runs_operations
        result = runs._operation.get_by_ids_by_experiment_name(
            runs._subscription_id,
            runs._resource_group_name,
            runs._workspace_name,
            experiment,
            body=GetRunsByIds(run_ids=run_ids),
        )
        return {rid: JobState(rid, _status(run.status)) for rid, run in (result.runs or {}).items()}

    def cancel(self, name: str) -> None:
        """Ask for cancellation without waiting for the long-running operation to finish."""
        self._call(lambda: self.ml.jobs.begin_cancel(name))

    def run_end(self, name: str) -> RunEnd:
        """Azure ML's error for a finished job and its run time, from the job's run details.

        The SDK exposes the error only through `jobs.stream` (which prints the whole log), so the
        run details are read through the operations object the SDK itself uses for that.
        """
        details = self._call(lambda: self.ml.jobs._runs_operations.get_run_details(name))
        inner = getattr(getattr(details, "error", None), "error", None)
        start = getattr(details, "start_time_utc", None)
        end = getattr(details, "end_time_utc", None)
        ran_s = (end - start).total_seconds() if start and end else None
        return RunEnd(getattr(inner, "message", None), ran_s, start, end)

    def step_errors(self, name: str) -> list[str]:
        """The error messages of a pipeline job's failed child runs (its steps)."""
        return [m for step in self._failed_steps(name) if (m := self.run_end(step).message)]

    def step_result(self, name: str, dest: Path) -> Path | None:
        """The `logs/job_result.txt` of a pipeline job's failed step at dest (a parallel step's
        own account of how it ended), or None when no failed step left one.

        Read where `jobs.download` reads any run's logs (`ExperimentRun/dcid.<run>/` on the
        workspace's artifact store), through the SDK's own helper: `jobs.download(step)` would
        fetch every log of every worker, and first GET the step as a job.
        """
        from azure.ai.ml._artifacts._artifact_utilities import download_artifact_from_aml_uri

        for step in self._failed_steps(name):
            uri = f"{ARTIFACTS}ExperimentRun/dcid.{step}/{STEP_RESULT}"
            with tempfile.TemporaryDirectory() as tmp:
                self._call(
                    lambda u=uri, t=tmp: download_artifact_from_aml_uri(u, t, self.ml.datastores)
                )
                if kept := _keep(sorted(Path(tmp).rglob("job_result.txt")), dest):
                    return kept
        return None

    def _failed_steps(self, name: str) -> list[str]:
        steps = self.steps(name).items()
        return [step for step, status in steps if outcome(status) is Outcome.FAILED]

    def steps(self, name: str) -> dict[str, str]:
        """A pipeline job's child runs (its steps): name → status."""
        steps = self._call(lambda: list(self.ml.jobs.list(parent_job_name=name)))
        return {step.name: _status(step.status) for step in steps}

    def download_log(self, name: str, dest: Path) -> Path | None:
        """The job's std_log.txt at dest, or None when the job left no such log."""
        with tempfile.TemporaryDirectory() as tmp:
            self._call(lambda: self.ml.jobs.download(name, download_path=tmp, all=False))
            return _keep(sorted(Path(tmp).rglob("std_log*.txt")), dest)


def _keep(found: list[Path], dest: Path) -> Path | None:
    """The first downloaded file copied to dest (None when nothing was found)."""
    if not found:
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(found[0], dest)
    return dest
