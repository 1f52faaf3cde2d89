"""Groups of independent Snakemake jobs run as one pipeline job with one parallel step: built
(leaving out members that succeeded in an earlier attempt), submitted with their manifests,
their members' progress said as it comes, and how each member ended reported."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from snakemake_interface_executor_plugins.jobs import JobExecutorInterface

from aml_bridge.executor.job_facts import job_facts
from aml_bridge.executor.logs import LOG_ROOT, excerpt, log_path
from aml_bridge.executor.workspace_components import RegisteredComponents
from aml_bridge.gateway.client import AmlClient, JobState
from aml_bridge.gateway.status import Outcome
from aml_bridge.model.group_files import GroupFiles, member_code
from aml_bridge.model.specs.common import JobFacts, RunContext
from aml_bridge.model.specs.pipeline import PipelineJobSpec, build_pipeline_spec, members_of

# Where the entry script of a submitted group's step is written (the SDK uploads it as code).
SUBMIT_CODE = Path(".snakemake/aml")


class GroupJobs:
    def __init__(
        self,
        run: RunContext,
        client: AmlClient,
        files: GroupFiles | None,  # None unless the default storage is azureml
        components: RegisteredComponents | None,  # None without a workspace
        exec_command: Callable[[JobExecutorInterface], str],
        keep_incomplete: bool,
        logger: logging.Logger,
    ) -> None:
        self.run, self.client, self.files, self.components = run, client, files, components
        self.exec_command, self.keep_incomplete, self.logger = exec_command, keep_incomplete, logger
        # Groups (rule, outputs) → ids of members that succeeded: a retry reruns the others.
        self._done: dict[tuple[str, tuple[str, ...]], set[str]] = {}
        self._said: dict[str, set[str]] = {}  # pipeline job → members logged as done

    def build(self, job: JobExecutorInterface) -> tuple[JobFacts, PipelineJobSpec]:
        """The pipeline job of a group's attempt. Snakemake removes the outputs of every member
        of a failed group before its retry, unless keep-incomplete (set by the aml profile):
        then members that succeeded in an earlier attempt keep their outputs on the datastore
        and are left out. A group of one rule runs its registered component when there."""
        facts = job_facts(job, "")  # the members' commands run, not the group's
        members = members_of([job_facts(m, self.exec_command(m)) for m in job.jobs])
        done = self._done.get((facts.rule, facts.outputs), set()) if self.keep_incomplete else set()
        members = tuple(m for m in members if m.id not in done) or members
        spec = build_pipeline_spec(self.run, facts, job.groupid, members)
        rules = {m.facts.rule for m in members}
        if self.components is None or len(rules) != 1:
            return facts, spec
        ref = self.components.reference(rules.pop(), spec.environment.registered_id)
        return facts, replace(spec, component=ref)

    def submit(self, spec: PipelineJobSpec) -> JobState:
        self.client.ensure_environment(spec.environment)
        self.files.upload_manifests(spec)
        code = member_code(SUBMIT_CODE).resolve()
        return self.client.submit(spec.to_yaml(str(code), inline_environment=False))

    def written(self, spec: PipelineJobSpec, folder: Path) -> dict[str, Any]:
        """Runnable as written: the entry script beside it, the members' manifests uploaded."""
        self.files.upload_manifests(spec)
        return spec.to_yaml(member_code(folder).name)

    def log_progress(self, spec: PipelineJobSpec) -> None:
        """Members of a running step as they finish: a long step is not silent."""
        try:
            self._say_done(spec, self.files.finished(spec))
        except Exception as e:  # progress only: the end of the step reports what counts
            self.logger.debug(f"aml: reading the progress of {spec.name} failed ({e})")

    def unfinished(self, spec: PipelineJobSpec, facts: JobFacts) -> str | None:
        """A group's step runs every member to its end and completes (it retries nothing:
        Snakemake does), also when members failed."""
        done = self._succeeded(spec, facts)
        self._say_done(spec, done)
        if all(m.id in done for m in spec.members):
            return None
        return "its step ended, not every member succeeded"

    def failure_detail(
        self, name: str, spec: PipelineJobSpec, facts: JobFacts, result: Outcome
    ) -> tuple[str, list[str]]:
        """Which members did not succeed, with the step's error and each member's own log."""
        done = self._succeeded(spec, facts)
        failed = [m for m in spec.members if m.id not in done]
        lines, aux_logs = [], []
        if result is Outcome.FAILED:
            lines, aux_logs = self._step_failure(spec, facts)
        for member in failed:
            f = member.facts
            wildcards = ", ".join(f"{k}={v}" for k, v in sorted(f.wildcards.items()))
            dest = log_path(f.rule, f.wildcards, facts.attempt)
            try:
                log = self.files.member_log(spec, member, dest)
            except Exception as e:
                self.logger.warning(f"aml: downloading the log of {f.label} failed ({e})")
                log = None
            where = wildcards or "no wildcards"
            head = f"Member {f.label} (rule {f.rule}, {where}) did not succeed"
            if log is None:
                lines.append(f"{head}; it left no log (not run).")
                continue
            aux_logs.append(str(log))
            lines.append(f"{head}. From {log}:\n{excerpt(log)}")
        lines.append(
            f"{len(done)} of {len(spec.members)} member(s) succeeded"
            + (
                " and keep their outputs (keep-incomplete): a retry of the group, and the "
                "next run, rerun only the others."
                if self.keep_incomplete
                else "; Snakemake removes their outputs without keep-incomplete (the aml "
                "profile sets it): a retry reruns every member."
            )
        )
        return "\n".join(lines) + "\n", aux_logs

    def _succeeded(self, spec: PipelineJobSpec, facts: JobFacts) -> set[str]:
        """Members of the group's attempt that returned a row; remembered for its retry."""
        try:
            done = self.files.succeeded(spec)
        except Exception as e:
            self.logger.warning(f"aml: reading the results of {spec.name} failed ({e})")
            return set()
        self._done.setdefault((facts.rule, facts.outputs), set()).update(done)
        return done

    def _say_done(self, spec: PipelineJobSpec, done: set[str]) -> None:
        said = self._said.setdefault(spec.name, set())
        for member in spec.members:
            if member.id in done and member.id not in said:
                said.add(member.id)
                self.logger.info(
                    f"aml: {spec.display_name}: {member.facts.label} done "
                    f"({len(said)} of {len(spec.members)})"
                )

    def _step_failure(self, spec: PipelineJobSpec, facts: JobFacts) -> tuple[list[str], list[str]]:
        """The failed step's own account: its run's error and its `logs/job_result.txt` (what
        Azure ML says to read first when a parallel step fails), saved beside the members' logs.
        An error that the job result already states is not repeated."""
        try:
            errors = self.client.step_errors(spec.name)
        except Exception as e:
            self.logger.warning(f"aml: reading the step errors of {spec.name} failed ({e})")
            errors = []
        try:
            dest = LOG_ROOT / facts.rule / f"{spec.name}.job_result.txt"
            result = self.client.step_result(spec.name, dest)
        except Exception as e:
            self.logger.warning(f"aml: downloading the job result of {spec.name} failed ({e})")
            result = None
        said = result.read_text(errors="replace") if result else ""
        lines = [f"Step: {message}" for message in errors if message.strip() not in said]
        if result is None:
            return lines, []
        return [*lines, f"Step result, from {result}:\n{excerpt(result)}"], [str(result)]
