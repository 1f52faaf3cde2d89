"""What a run does with its jobs, chosen once from the settings: submit them to the workspace,
write their specs (--aml-spec-dir), or record them for `aml-genomics export`
(--aml-export-jobs). Only a submitting run is remembered for a restart to adopt its jobs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import yaml
from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo
from snakemake_interface_executor_plugins.jobs import JobExecutorInterface

from aml_bridge.executor.export_jobs import JobRecorder
from aml_bridge.executor.job_handler import Prepared
from aml_bridge.executor.run_state import finished_run, remember_run
from aml_bridge.model.settings import ExecutorSettings

if TYPE_CHECKING:
    from aml_bridge.executor.executor import Executor


class RunMode(Protocol):
    adopts_unfinished: bool  # a run started without --aml-run-id adopts an unfinished one's jobs
    note: str  # said in the run's first line

    def begin(self, executor: Executor) -> None:
        """The run is set up: from now on jobs may be sent."""

    def run_job(self, executor: Executor, job: JobExecutorInterface) -> None: ...

    def end(self, executor: Executor) -> None:
        """The run ended (also after Ctrl-C); its jobs are no longer being sent."""


def run_mode(settings: ExecutorSettings) -> RunMode:
    if settings.export_jobs:
        return Exporting(Path(settings.export_jobs))
    if settings.spec_dir:
        return WritingSpecs(Path(settings.spec_dir))
    return Submitting()


class Submitting:
    """Jobs go to the workspace; until the run ends a restart in this folder adopts them."""

    adopts_unfinished = True
    note = ""

    def begin(self, executor: Executor) -> None:
        remember_run(executor.run_id)  # a kill from now on leaves submitted jobs to adopt

    def run_job(self, executor: Executor, job: JobExecutorInterface) -> None:
        prepared = executor.prepared(job)
        if prepared is not None:
            executor.send(job, prepared)

    def end(self, executor: Executor) -> None:
        executor.trace.close()
        finished_run()  # nothing of it is left to adopt


@dataclass
class WritingSpecs:
    """Each job's spec written to a folder, runnable with `az ml job create`; the job fails
    (not submitted) and its retries are refused."""

    folder: Path
    adopts_unfinished = False

    @property
    def note(self) -> str:
        return f", writing specs to {self.folder} instead of submitting"

    def begin(self, executor: Executor) -> None:
        pass

    def run_job(self, executor: Executor, job: JobExecutorInterface) -> None:
        prepared = executor.prepared(job)
        if prepared is None:
            return
        path = self._write(prepared)
        label = prepared.facts.label
        executor.never_again(prepared.facts, f"aml: spec of {label} already written to {path}. ")
        executor.report_job_error(
            SubmittedJobInfo(job, external_jobid=prepared.spec.name),
            msg=f"aml: spec written to {path}, job not submitted (--aml-spec-dir). ",
        )

    def _write(self, prepared: Prepared) -> Path:
        path = self.folder / f"{prepared.spec.name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = prepared.handler.written(prepared.spec, self.folder)
        path.write_text(yaml.safe_dump(body, sort_keys=False))
        return path

    def end(self, executor: Executor) -> None:
        pass


@dataclass
class Exporting:
    """aml-genomics export: every job recorded and reported done at once (with
    --immediate-submit none waits); nothing is submitted."""

    where: Path
    adopts_unfinished = False
    note = ""
    recorder: JobRecorder | None = None

    def begin(self, executor: Executor) -> None:
        datastore = executor.storage.datastore if executor.storage else None
        self.recorder = JobRecorder(self.where, executor.run, datastore)

    def run_job(self, executor: Executor, job: JobExecutorInterface) -> None:
        self.recorder.add(job, executor.format_job_exec)
        info = SubmittedJobInfo(job)
        executor.report_job_submission(info)
        executor.report_job_success(info)

    def end(self, executor: Executor) -> None:
        exported = self.recorder.write()
        jobs, rules = len(self.recorder.jobs), len(exported.rules)
        executor.logger.info(f"aml: {jobs} jobs of {rules} rules recorded in {self.where}")
