"""The Snakemake executor: every job an Azure ML command job.

Submission happens in a bounded thread pool; the job's Azure ML name is deterministic, so the
job is reported as submitted at once and the status rounds pick up the submission's outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from concurrent.futures import Future, ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import yaml
from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo
from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor
from snakemake_interface_executor_plugins.jobs import JobExecutorInterface

from aml_bridge import settings as aml_settings
from aml_bridge.client import AmlClient, JobState, RunEnd
from aml_bridge.clusters import Cluster, parse_instance_table
from aml_bridge.environments import remote_requirements
from aml_bridge.job_env import job_env_vars
from aml_bridge.job_facts import job_facts
from aml_bridge.logs import excerpt, log_path
from aml_bridge.names import experiment_name
from aml_bridge.plugin_bundle import package_files, plugin_bundle, publish
from aml_bridge.polling import StatusPoller
from aml_bridge.run_state import finished_run, remember_run, unfinished_run
from aml_bridge.specs.command import CommandJobSpec, build_spec
from aml_bridge.specs.common import JobFacts, RunContext, timeout_seconds
from aml_bridge.status import LOST, Outcome, canceled_by_time_limit, outcome, restarted


class Executor(RemoteExecutor):
    def __post_init__(self) -> None:
        self.settings: aml_settings.ExecutorSettings = self.workflow.executor_settings
        aml_settings.validate(self.settings)
        s = self.settings
        resumed = None if s.run_id or s.spec_dir else unfinished_run()
        self.run_id = s.run_id or resumed or uuid.uuid4().hex[:8]
        self.adopting = bool(s.run_id or resumed)  # jobs found by name are not submitted again
        experiment = s.experiment or experiment_name(Path(self.workflow.workdir_init).name)
        self.client = AmlClient(s, on_retry=self._log_retry)
        self.poller = StatusPoller(self.client, experiment, s.status_interval, self.logger)
        clusters = self._read_clusters()  # before any upload: a missing cluster ends the run
        env_vars, withheld = job_env_vars(self.envvars())
        self._warn_about_setup(withheld)
        self._upload_local_inputs()
        self.run = RunContext(
            run_id=self.run_id,
            experiment=experiment,
            compute=aml_settings.default_compute(s),
            base_image=s.base_image,
            pip=remote_requirements(version("snakemake"), s.remote_pip or []),
            clusters=clusters,
            default_environment=s.environment,
            instance_type=s.instance_type,
            instance_table=parse_instance_table(s.instance_types or []),
            low_priority=s.low_priority,
            tags=aml_settings.extra_tags(s),
            env_vars=env_vars,
            plugin_bundle=self._publish_plugin_bundle(),
        )
        self.pool = ThreadPoolExecutor(s.submit_concurrency, thread_name_prefix="aml-submit")
        self.next_seconds_between_status_checks = s.status_interval
        self._init_watch()
        if not s.spec_dir:  # from now on jobs may be submitted: a kill leaves them to adopt
            remember_run(self.run_id)
        self.logger.info(
            f"aml: run {self.run_id}, experiment {self.run.experiment}, compute "
            + (", ".join(c.describe() for c in self.run.clusters) or self.run.compute)
            + (f", writing specs to {s.spec_dir} instead of submitting" if s.spec_dir else "")
            + (f"; resuming unfinished run {resumed}: its jobs are adopted" if resumed else "")
        )

    def _read_clusters(self) -> tuple[Cluster, ...]:
        """The run's clusters and their sizes, read once; a missing one fails the run here.
        Specs written without a workspace (--aml-spec-dir alone) go to the first cluster."""
        names = aml_settings.cluster_names(self.settings)
        if not names or not self.settings.workspace:
            return ()
        try:
            return self.client.clusters(names)
        except ValueError as e:
            raise WorkflowError(f"aml: {e}") from e

    def _init_watch(self) -> None:
        """What the status rounds remember between rounds."""
        self._last_status: dict[str, str] = {}
        self._canceled_here: set[str] = set()  # canceled by this run (Ctrl-C, stalled jobs)
        # Jobs (rule, outputs) never to be sent again, with the reason their next attempt fails
        # at once: Snakemake has no hook to stop its retries of a failed job.
        self._refused: dict[tuple[str, tuple[str, ...]], str] = {}

    def _warn_about_setup(self, withheld: list[str]) -> None:
        s, storage = self.settings, self.workflow.storage_settings
        for name in withheld:
            self.logger.warning(
                f"aml: environment variable {name} looks secret and is not put into job specs; "
                "jobs reach storage as the compute cluster's managed identity, which needs "
                "'Storage Blob Data Contributor' on the storage account"
            )
        warning = aml_settings.datastore_warning(
            s, storage.default_storage_provider, storage.default_storage_prefix
        )
        if warning:
            self.logger.warning(f"aml: {warning}")

    def _publish_plugin_bundle(self) -> str | None:
        """Upload the azureml storage plugin for the jobs; the URI of their input folder.

        Also with --aml-spec-dir: the written specs stay complete for `az ml job create`, and
        the sources are uploaded to the same storage anyway. None when the default storage is
        not azureml: then the jobs do not use this plugin.
        """
        storage = self.workflow.storage_settings
        if storage.default_storage_provider != "azureml" or not storage.default_storage_prefix:
            return None
        bundle = plugin_bundle(storage.default_storage_prefix, package_files())
        provider = self.workflow.storage_registry.default_storage_provider
        publish(bundle, provider.datastore(bundle.folder.datastore))
        self.logger.debug(f"aml: storage plugin for the jobs at {bundle.uri}")
        return bundle.uri

    def _upload_local_inputs(self) -> None:
        """The local inputs the workflow staged for the datastore go up before any job (those
        already there unchanged are skipped); dry runs never get here, so they upload nothing."""
        provider = self.workflow.storage_registry.default_storage_provider
        upload = getattr(provider, "upload_staged", None)
        if upload is None or not provider.staging:
            return
        before = provider.stats.uploaded_bytes
        upload()
        self.logger.info(
            f"aml: {len(provider.staging)} local input(s) on the datastore "
            f"({(provider.stats.uploaded_bytes - before) / 1e6:.1f} MB uploaded)"
        )

    def _log_retry(self, error: BaseException, wait: float) -> None:
        self.poller.server_asked(wait)
        self.logger.warning(f"aml: {type(error).__name__}: {error}; retrying in {wait:.1f} s")

    # submission

    def run_job(self, job: JobExecutorInterface) -> None:
        try:
            facts = job_facts(job, self.format_job_exec(job))
            spec = build_spec(self.run, facts)
        except ValueError as e:
            self.report_job_error(SubmittedJobInfo(job), msg=f"aml: {e}")
            return
        key = (facts.rule, facts.outputs)
        if key in self._refused:
            self.report_job_error(SubmittedJobInfo(job), msg=self._refused[key])
            return
        if self.settings.spec_dir:
            path = self._write_spec(spec)
            self._refused[key] = f"aml: spec of {facts.label} already written to {path}. "
            self.report_job_error(
                SubmittedJobInfo(job, external_jobid=spec.name),
                msg=f"aml: spec written to {path}, job not submitted (--aml-spec-dir). ",
            )
            return
        future = self.pool.submit(self._submit, spec)
        self.report_job_submission(
            SubmittedJobInfo(job, external_jobid=spec.name, aux={"facts": facts, "submit": future})
        )

    def _write_spec(self, spec: CommandJobSpec) -> Path:
        path = Path(self.settings.spec_dir) / f"{spec.name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(spec.to_yaml(), sort_keys=False))
        return path

    def _submit(self, spec: CommandJobSpec) -> JobState:
        """Adopt the job when a restarted run (same run id) already submitted it."""
        existing = self.client.get(spec.name) if self.adopting else None
        if existing is not None:
            return existing
        self.client.ensure_environment(spec.environment)
        return self.client.submit(spec.to_yaml(inline_environment=False))

    # status

    async def check_active_jobs(
        self, active_jobs: list[SubmittedJobInfo]
    ) -> AsyncGenerator[SubmittedJobInfo, None]:
        submitted = []
        for info in active_jobs:
            future: Future = info.aux["submit"]
            if not future.done():
                yield info
            elif future.exception() is not None:
                error = future.exception()
                self.report_job_error(
                    info, msg=f"aml: submitting {info.external_jobid} failed: {error}. "
                )
            else:
                submitted.append(info)
        if not submitted:
            return
        try:
            async with self.status_rate_limiter:
                states = self.poller.round([info.external_jobid for info in submitted])
        except Exception as e:  # a status round that fails never fails a job
            self.logger.warning(f"aml: status request failed ({e}); jobs stay active")
            for info in submitted:
                yield info
            self.next_seconds_between_status_checks = self.poller.next_round(changed=False)
            return
        changed = False
        for info in submitted:
            state = states[info.external_jobid]
            if state is not None:
                self._note_restart(info, state.status)
            result = outcome(state.status) if state else Outcome.ACTIVE
            if result is Outcome.ACTIVE:
                yield info
                continue
            changed = True
            self.poller.forget(info.external_jobid)
            self._last_status.pop(info.external_jobid, None)
            if result is Outcome.SUCCEEDED:
                self.report_job_success(info)
            else:
                self._report_failure(info, state, result)
        self.next_seconds_between_status_checks = self.poller.next_round(changed)

    def _note_restart(self, info: SubmittedJobInfo, status: str) -> None:
        """Preemption of a low-priority node: Azure ML queues the same job again and restarts
        it. Nothing to do but say so: its outputs come from the run that completes."""
        name = info.external_jobid
        previous, self._last_status[name] = self._last_status.get(name), status
        if restarted(previous, status):
            facts: JobFacts = info.aux["facts"]
            self.logger.warning(
                f"aml: job {name} ({facts.label}) went from {previous} back to {status}: "
                "Azure ML restarts it (its low-priority node was preempted)"
            )

    def _report_failure(self, info: SubmittedJobInfo, state: JobState, result: Outcome) -> None:
        facts: JobFacts = info.aux["facts"]
        name = info.external_jobid
        if state.status == LOST:
            reason = "is no longer known to the workspace (deleted or never created)"
        elif result is Outcome.STALLED:
            reason = self._cancel_stalled(name, state.status)
        elif result is Outcome.CANCELED:
            reason = self._canceled_reason(facts, name)
        else:
            error = (self._run_end(name).message or "no error message").rstrip(". ")
            reason = f"{state.status}: {error}"
        studio_url = info.aux["submit"].result().studio_url  # status lookups do not carry it
        msg = f"aml: job {name} {reason}.\nStudio: {studio_url or 'n/a'}\n"
        aux_logs = []
        log = self._download_log(facts, name)
        if log is not None:
            aux_logs.append(str(log))
            msg += f"From {log}:\n{excerpt(log)}\n"
        self.report_job_error(info, msg=msg, aux_logs=aux_logs)

    def _cancel_stalled(self, name: str, status: str) -> str:
        """NotResponding (or Paused) may resume: cancel the job before its attempt counts as
        failed, so that it cannot run alongside its retry. The reason for the error."""
        self._canceled_here.add(name)
        try:
            self.client.cancel(name)
        except Exception as e:
            return (
                f"was {status} and canceling it failed ({e}): cancel it in the Studio before "
                "its retry finishes, or both may write the outputs"
            )
        return f"was {status}; canceled so that it cannot resume alongside its retry"

    def _canceled_reason(self, facts: JobFacts, name: str) -> str:
        """Canceled: by its time limit (a failed attempt), by this run, or by someone else (then
        the job is not resubmitted: someone meant it to stop)."""
        limit = timeout_seconds(facts)
        end = self._run_end(name)
        if canceled_by_time_limit(end.message, end.ran_s, limit):
            return (
                f"exceeded its time limit and was canceled by Azure ML: rule {facts.rule} has "
                f"runtime={facts.resources.get('runtime')} (minutes; the job's limits.timeout "
                f"{limit} s); raise the rule's runtime resource"
            )
        if name in self._canceled_here:
            return "was canceled by this run"
        self._refused[(facts.rule, facts.outputs)] = (
            f"aml: {facts.label} was canceled outside this run (job {name}); not resubmitted. "
        )
        return "was canceled outside this run (Studio, CLI or API); not resubmitted"

    def _run_end(self, name: str) -> RunEnd:
        try:
            return self.client.run_end(name)
        except Exception as e:
            self.logger.warning(f"aml: reading the error of {name} failed ({e})")
            return RunEnd(None, None)

    def _download_log(self, facts: JobFacts, name: str) -> Path | None:
        dest = log_path(facts.rule, facts.wildcards, facts.attempt)
        try:
            return self.client.download_log(name, dest)
        except Exception as e:
            self.logger.warning(f"aml: downloading the log of {name} failed ({e})")
            return None

    # cancellation

    def cancel_jobs(self, active_jobs: list[SubmittedJobInfo]) -> None:
        """Ctrl-C: cancel every job of the run that was (or is being) submitted."""
        for info in active_jobs:
            info.aux["submit"].cancel()
        names = [
            info.external_jobid
            for info in active_jobs
            if not info.aux["submit"].cancelled() and info.aux["submit"].exception() is None
        ]
        self._canceled_here.update(names)
        for name, future in [(n, self.pool.submit(self.client.cancel, n)) for n in names]:
            try:
                future.result()
            except Exception as e:
                self.logger.error(f"aml: canceling {name} failed ({e}); cancel it in the Studio")
        if names:
            self.logger.info(f"aml: canceled {len(names)} job(s) of run {self.run_id}")

    def shutdown(self) -> None:
        """The run ended (also after Ctrl-C): nothing of it is left to adopt."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        if not self.settings.spec_dir:
            finished_run()
        super().shutdown()
