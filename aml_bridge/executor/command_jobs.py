"""Snakemake jobs run one Azure ML command job each: built, submitted, written and reported."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from snakemake_interface_executor_plugins.jobs import JobExecutorInterface

from aml_bridge.executor.job_facts import job_facts
from aml_bridge.executor.logs import excerpt, log_path
from aml_bridge.gateway.client import AmlClient, JobState
from aml_bridge.gateway.status import Outcome
from aml_bridge.model.specs.command import CommandJobSpec, build_spec
from aml_bridge.model.specs.common import JobFacts, RunContext


class CommandJobs:
    def __init__(
        self,
        run: RunContext,
        client: AmlClient,
        exec_command: Callable[[JobExecutorInterface], str],
        logger: logging.Logger,
    ) -> None:
        self.run, self.client, self.exec_command, self.logger = run, client, exec_command, logger

    def build(self, job: JobExecutorInterface) -> tuple[JobFacts, CommandJobSpec]:
        facts = job_facts(job, self.exec_command(job))
        return facts, build_spec(self.run, facts)

    def submit(self, spec: CommandJobSpec) -> JobState:
        self.client.ensure_environment(spec.environment)
        return self.client.submit(spec.to_yaml(inline_environment=False))

    def written(self, spec: CommandJobSpec, folder: Path) -> dict[str, Any]:
        return spec.to_yaml()

    def log_progress(self, spec: CommandJobSpec) -> None:
        """A command job's progress is its status: nothing more to say."""

    def unfinished(self, spec: CommandJobSpec, facts: JobFacts) -> str | None:
        return None  # a completed command job succeeded

    def failure_detail(
        self, name: str, spec: CommandJobSpec, facts: JobFacts, result: Outcome
    ) -> tuple[str, list[str]]:
        """The job's own log, saved where Snakemake's rule logs go, with its last lines."""
        log = self._download_log(facts, name)
        if log is None:
            return "", []
        return f"From {log}:\n{excerpt(log)}\n", [str(log)]

    def _download_log(self, facts: JobFacts, name: str) -> Path | None:
        dest = log_path(facts.rule, facts.wildcards, facts.attempt)
        try:
            return self.client.download_log(name, dest)
        except Exception as e:
            self.logger.warning(f"aml: downloading the log of {name} failed ({e})")
            return None
