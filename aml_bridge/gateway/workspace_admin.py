"""What `aml-genomics` asks of and changes in the workspace, through the executor's MLClient
(aml_bridge.gateway.client: one client, the SDK's retries off) and the one retry policy.

Kept apart from the executor's job calls: these are administration (clusters, components,
data assets, probe jobs), run by a person before or between workflow runs. What both ask
(whether an environment or component version is registered; registering an environment) is
the client's: the executor never imports this module.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aml_bridge.gateway.client import AmlClient, rest_figure, sdk_job
from aml_bridge.gateway.retry import call_with_retries
from aml_bridge.gateway.status import Outcome, is_terminal, outcome
from aml_bridge.model.group_files import member_code
from aml_bridge.model.workspace_plan import ClusterWanted, ComponentWanted

TIERS = {"dedicated": "dedicated", "low_priority": "low_priority", "lowpriority": "low_priority"}


@dataclass(frozen=True)
class ClusterFound:
    name: str
    vm_size: str
    min_nodes: int
    max_nodes: int
    idle_s: int
    tier: str
    identity: str | None  # system_assigned, user_assigned or None
    principal_id: str | None = None  # of a system-assigned identity


@dataclass(frozen=True)
class ProbeResult:
    status: str
    start_s: float | None  # from submission to the node running the command
    output: str
    error: str = ""  # Azure ML's error of a job that did not complete


class WorkspaceAdmin:
    def __init__(self, client: AmlClient) -> None:
        self.client = client

    def _call(self, fn: Callable[[], Any]) -> Any:
        return call_with_retries(fn, self.client.backoff)

    @property
    def ml(self):
        return self.client.ml

    def workspace(self) -> Any:
        return self._call(lambda: self.ml.workspaces.get(self.client.settings.workspace))

    def cluster(self, name: str) -> ClusterFound | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            c = self._call(lambda: self.ml.compute.get(name))
        except ResourceNotFoundError:
            return None
        identity = c.identity.type if c.identity and c.identity.type != "none" else None
        return ClusterFound(
            name, str(c.size).lower(), c.min_instances or 0, c.max_instances,
            int(c.idle_time_before_scale_down or 0), TIERS.get(str(c.tier).lower(), str(c.tier)),
            identity, getattr(c.identity, "principal_id", None) if identity else None,
        )  # fmt: skip

    def usages(self, location: str) -> list[tuple[str, str, int, int]]:
        """The subscription's vCPU usage entries in the region: (name, type, current, limit)."""
        listed = self._call(lambda: list(self.ml.compute.list_usage(location=location)))
        return [
            (
                (u.name or {}).get("value", ""),
                u.type or "",
                rest_figure(u, "currentValue", "current_value"),
                u.limit,
            )  # fmt: skip
            for u in listed
        ]

    def vm_families(self, location: str) -> dict[str, tuple[str, int]]:
        """VM size (lower case) → (family, vCPUs) in the region."""
        listed = self._call(lambda: list(self.ml.compute.list_sizes(location=location)))
        return {s.name.lower(): (s.family, int(rest_figure(s, "vCPUs", "v_cp_us"))) for s in listed}

    def put_cluster(self, wanted: ClusterWanted) -> None:
        from azure.ai.ml.entities import AmlCompute, IdentityConfiguration

        compute = AmlCompute(
            name=wanted.name, size=wanted.vm_size, min_instances=wanted.min_nodes,
            max_instances=wanted.max_nodes, idle_time_before_scale_down=wanted.idle_s,
            tier=wanted.tier, identity=IdentityConfiguration(type="system_assigned"),
        )  # fmt: skip
        self._call(lambda: self.ml.compute.begin_create_or_update(compute).result())

    def create_component(self, wanted: ComponentWanted) -> None:
        """Registered with its code: a folder holding the entry script alone (the SDK uploads
        it as a code asset)."""
        from azure.ai.ml import load_component

        with tempfile.TemporaryDirectory() as tmp:
            code = member_code(Path(tmp))
            spec = {**wanted.spec, "task": {**wanted.spec["task"], "code": str(code)}}
            entity = load_component(source=io.StringIO(yaml.safe_dump(spec, sort_keys=False)))
            self._call(lambda: self.ml.components.create_or_update(entity))

    def data_asset(self, name: str, version: str | None) -> Any:
        """The data asset (version None: the latest); ResourceNotFoundError when absent."""
        if version is None:
            return self._call(lambda: self.ml.data.get(name, label="latest"))
        return self._call(lambda: self.ml.data.get(name, version=version))

    def submit_probe(self, spec: dict[str, Any]) -> str:
        """Submit a probe job (command or pipeline YAML); its name."""
        return self._call(lambda: self.ml.jobs.create_or_update(sdk_job(spec))).name

    def wait_probes(self, names: list[str], timeout_s: float) -> dict[str, ProbeResult]:
        """Wait for every probe job to end (one deadline for all: they run at once); each one's
        status, node start time and output (a command job's log; a pipeline's is read by the
        caller from its step's member log) with Azure ML's error for a failed one."""
        deadline = time.monotonic() + timeout_s
        results: dict[str, ProbeResult] = {}
        pending = list(names)
        while pending:
            for name in list(pending):
                state = self.client.get(name)
                if state and is_terminal(state.status):
                    results[name] = self._probe_result(name, state.status)
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                for name in pending:
                    self.client.cancel(name)
                    results[name] = ProbeResult("TimedOut", None, "",
                                                f"no result within {timeout_s:.0f} s")  # fmt: skip
                break
            if pending:
                time.sleep(1)
        return results

    def _probe_result(self, name: str, status: str) -> ProbeResult:
        # creation time from the job, start time from its run details (the executor's source)
        job = self._call(lambda: self.ml.jobs.get(name))
        details = self._call(lambda: self.ml.jobs._runs_operations.get_run_details(name))
        created = getattr(job.creation_context, "created_at", None)
        start = getattr(details, "start_time_utc", None)
        started = max(0.0, (start - created).total_seconds()) if created and start else None
        completed = outcome(status) is Outcome.SUCCEEDED
        errors = [] if completed else [self.client.run_end(name).message or ""]
        if job.type == "pipeline" and not completed:
            errors += self.client.step_errors(name)
        log = self._log(name) if job.type != "pipeline" else ""
        return ProbeResult(status, started, log, " ".join(e for e in errors if e))

    def _log(self, name: str) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            path = self.client.download_log(name, Path(tmp) / "std_log.txt")
            return path.read_text() if path else ""
