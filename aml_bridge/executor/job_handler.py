"""What the executor asks of a job type (command job, group as a pipeline job): one handler
per type owns building, submitting and writing its spec, and reading how it ended; the
executor picks the handler once per job and never asks which type a spec is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from snakemake_interface_executor_plugins.jobs import JobExecutorInterface

from aml_bridge.gateway.client import JobState
from aml_bridge.gateway.status import Outcome
from aml_bridge.model.specs.command import CommandJobSpec
from aml_bridge.model.specs.common import JobFacts
from aml_bridge.model.specs.pipeline import PipelineJobSpec

Spec = CommandJobSpec | PipelineJobSpec


class JobHandler(Protocol):
    def build(self, job: JobExecutorInterface) -> tuple[JobFacts, Spec]:
        """The job's facts and the spec of its attempt; ValueError names the job."""

    def submit(self, spec: Spec) -> JobState:
        """Create the job in the workspace (its environment registered first)."""

    def written(self, spec: Spec, folder: Path) -> dict[str, Any]:
        """The YAML --aml-spec-dir writes into folder, runnable there with `az ml job create`."""

    def log_progress(self, spec: Spec) -> None:
        """Say what finished so far in a running job."""

    def unfinished(self, spec: Spec, facts: JobFacts) -> str | None:
        """Why a completed job still failed (a group member did not succeed); None: it did."""

    def failure_detail(
        self, name: str, spec: Spec, facts: JobFacts, result: Outcome
    ) -> tuple[str, list[str]]:
        """The failure report's detail below the Studio link, and the logs it saved."""


@dataclass(frozen=True)
class Prepared:
    """A job ready to go: its handler (chosen once), facts and spec."""

    handler: JobHandler
    facts: JobFacts
    spec: Spec
