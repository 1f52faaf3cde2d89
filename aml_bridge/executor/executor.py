"""The Snakemake executor: every job an Azure ML command job, every group of independent jobs
one pipeline job with one parallel step (aml_bridge/model/specs). Each job type has its handler
(command_jobs, group_jobs), picked once per job; what the run does with its jobs (submit, write
specs, record for export) is its mode (run_modes), chosen once.

Submission happens in a bounded thread pool; the job's Azure ML name is deterministic, so the
job is reported as submitted at once and the status rounds pick up the submission's outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from concurrent.futures import Future, ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo
from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor
from snakemake_interface_executor_plugins.jobs import JobExecutorInterface

from aml_bridge.executor.command_jobs import CommandJobs
from aml_bridge.executor.environment_check import environment_problems
from aml_bridge.executor.group_jobs import GroupJobs
from aml_bridge.executor.job_ends import JobEnds
from aml_bridge.executor.job_env import job_env_vars
from aml_bridge.executor.job_facts import independent_group
from aml_bridge.executor.job_handler import JobHandler, Prepared, Spec
from aml_bridge.executor.preemption import Move, PreemptionWatch
from aml_bridge.executor.prefix_owner import Owner, claim
from aml_bridge.executor.quota_wait import QuotaWaits, Wait
from aml_bridge.executor.run_modes import run_mode
from aml_bridge.executor.run_state import unfinished_run
from aml_bridge.executor.run_trace import RunTrace, cluster_prices
from aml_bridge.executor.workspace_components import RegisteredComponents
from aml_bridge.gateway.client import AmlClient, JobState
from aml_bridge.gateway.polling import StatusPoller
from aml_bridge.gateway.retry import quota_backoff
from aml_bridge.gateway.status import Outcome
from aml_bridge.model import settings as aml_settings
from aml_bridge.model.clusters import Cluster, parse_instance_table, without_identity
from aml_bridge.model.environments import remote_requirements
from aml_bridge.model.group_files import GroupFiles, group_root
from aml_bridge.model.job_storage import located_datastores
from aml_bridge.model.names import experiment_name
from aml_bridge.model.plugin_bundle import package_files, plugin_bundle, publish
from aml_bridge.model.specs.common import JobFacts, RunContext
from snakemake_storage_plugin_azureml.run_storage import RunStorage


class Executor(RemoteExecutor):
    @property
    def next_seconds_between_status_checks(self) -> float:
        """The wait before the next status round. Snakemake's wait thread starts before
        __post_init__ and would first sleep its own default (10 s): --aml-status-interval
        applies from the first round on."""
        chosen = self._next_seconds_between_status_checks
        return self.workflow.executor_settings.status_interval if chosen is None else chosen

    @next_seconds_between_status_checks.setter
    def next_seconds_between_status_checks(self, value: float) -> None:
        self._next_seconds_between_status_checks = value

    def __post_init__(self) -> None:
        self.settings: aml_settings.ExecutorSettings = self.workflow.executor_settings
        aml_settings.validate(self.settings)
        s = self.settings
        self.mode = run_mode(s)
        pip = remote_requirements(version("snakemake"), s.remote_pip or [])
        self._check_environments(pip)  # before anything is uploaded, registered or submitted
        resumed = None if s.run_id or not self.mode.adopts_unfinished else unfinished_run()
        self.run_id = s.run_id or resumed or uuid.uuid4().hex[:8]
        self.adopting = bool(s.run_id or resumed)  # jobs found by name are not submitted again
        experiment = s.experiment or experiment_name(Path(self.workflow.workdir_init).name)
        self.client = AmlClient(s, on_retry=self._log_retry)
        self.poller = StatusPoller(self.client, experiment, s.status_interval, self.logger)
        self.ends = JobEnds(self.client, self.logger)
        # The azureml default storage with a prefix, which groups, the plugin bundle and the
        # prefix's claim need; None for another default storage (then jobs do not use ours).
        run_storage = RunStorage.of(self.workflow)
        self.storage = run_storage if run_storage and run_storage.prefix else None
        clusters = self._read_clusters()  # before any upload: a missing cluster ends the run
        env_vars, withheld = job_env_vars(self.envvars())
        self._warn_about_setup(withheld)
        self._claim_prefix()  # before any upload: another folder's prefix ends the run here
        self._upload_local_inputs()
        env_vars.update(located_datastores(self.workflow))  # jobs never ask the workspace
        self.run = RunContext(
            run_id=self.run_id,
            experiment=experiment,
            compute=aml_settings.default_compute(s),
            base_image=s.base_image,
            pip=pip,
            clusters=clusters,
            default_environment=s.environment,
            instance_type=s.instance_type,
            instance_table=parse_instance_table(s.instance_types or []),
            low_priority=s.low_priority,
            tags=aml_settings.extra_tags(s),
            env_vars=env_vars,
            plugin_bundle=self._publish_plugin_bundle(),
            group_root=self._group_root(),
        )
        prices = cluster_prices(clusters, s.prices, s.refresh_prices, s.endpoint, self.logger)
        files = getattr(self, "group_files", None)  # set by _group_root on azureml storage
        self.trace = RunTrace(self.run_id, self.client, clusters, prices, files, self.logger)
        self.pool = ThreadPoolExecutor(s.submit_concurrency, thread_name_prefix="aml-submit")
        self.preemption = PreemptionWatch(clusters, s.max_preemptions, self.client.steps)
        self.quota_waits = QuotaWaits(
            quota_backoff(s.quota_wait),
            lambda name: self.ends.run_end(name).message,
            self.client.step_errors,
        )
        self._in_round: dict[str, SubmittedJobInfo] = {}
        # Jobs (rule, outputs) never to be sent again, with the reason their next attempt fails
        # at once: Snakemake has no hook to stop its retries of a failed job.
        self._refused: dict[tuple[str, tuple[str, ...]], str] = {}
        components = (  # groups run the rules' registered components when there
            RegisteredComponents(self.workflow, self.run, self.client.has_component)
            if s.workspace
            else None
        )
        keep = self.workflow.execution_settings.keep_incomplete
        self.commands = CommandJobs(self.run, self.client, self.format_job_exec, self.logger)
        self.groups = GroupJobs(
            self.run, self.client, files, components, self.format_job_exec, keep, self.logger
        )
        self.mode.begin(self)
        self.logger.info(
            f"aml: run {self.run_id}, experiment {self.run.experiment}, compute "
            + (", ".join(c.describe() for c in self.run.clusters) or self.run.compute)
            + self.mode.note
            + (f"; resuming unfinished run {resumed}: its jobs are adopted" if resumed else "")
        )

    def _check_environments(self, pip: list[str]) -> None:
        """A rule's conda file that no solver can build fails the run here (environment_check)."""
        problems = environment_problems(
            list(self.workflow.rules), Path(self.workflow.workdir_init),
            base_image=self.settings.base_image, pip=pip, default=self.settings.environment,
        )  # fmt: skip
        if problems:
            raise WorkflowError("aml: " + "\naml: ".join(problems))

    def _read_clusters(self) -> tuple[Cluster, ...]:
        """The run's clusters and their sizes, read once; a missing one fails the run here.
        Specs written without a workspace (--aml-spec-dir alone) go to the first cluster."""
        names = aml_settings.cluster_names(self.settings)
        if not names or not self.settings.workspace:
            return ()
        try:
            clusters = self.client.clusters(names)
        except ValueError as e:
            raise WorkflowError(f"aml: {e}") from e
        for warning in without_identity(clusters):
            self.logger.warning(f"aml: {warning}")
        return clusters

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
        if self.storage is None:
            return None
        bundle = plugin_bundle(self.storage.prefix, package_files())
        publish(bundle, self.storage.datastore(bundle.folder.datastore))
        self.logger.debug(f"aml: storage plugin for the jobs at {bundle.uri}")
        return bundle.uri

    def _group_root(self) -> str | None:
        """Where groups run as parallel steps keep their files (azureml default storage only)."""
        if self.storage is None:
            return None
        self.group_files = GroupFiles(self.storage.datastore)
        return group_root(self.storage.prefix)

    def _claim_prefix(self) -> None:
        """The azureml default storage prefix is this folder's, or shared on purpose."""
        if self.storage is None:
            return
        prefix = self.storage.prefix
        other = claim(
            self.storage.datastore, prefix, Owner.of(Path.cwd()), self.settings.share_prefix
        )
        if other is not None:
            self.logger.warning(
                f"aml: storage prefix {prefix} is shared with {other.describe()} "
                "(--aml-share-prefix): outputs there stand in for this folder's"
            )

    def _upload_local_inputs(self) -> None:
        """The local inputs the workflow staged for the datastore go up before any job (those
        already there unchanged are skipped); dry runs never get here, so they upload nothing."""
        upload = self.storage.upload_staged() if self.storage else None
        if upload:
            self.logger.info(
                f"aml: {upload.files} local input(s) on the datastore "
                f"({upload.uploaded_bytes / 1e6:.1f} MB uploaded)"
            )

    def _log_retry(self, error: BaseException, wait: float) -> None:
        self.poller.server_asked(wait)
        self.logger.warning(f"aml: {type(error).__name__}: {error}; retrying in {wait:.1f} s")

    # submission

    def run_job(self, job: JobExecutorInterface) -> None:
        self.mode.run_job(self, job)

    def prepared(self, job: JobExecutorInterface) -> Prepared | None:
        """The job's handler, facts and spec; None when it fails here (reported)."""
        handler: JobHandler = self.groups if independent_group(job) else self.commands
        try:
            facts, spec = handler.build(job)
        except ValueError as e:
            self.report_job_error(SubmittedJobInfo(job), msg=f"aml: {e}")
            return None
        refused = self._refused.get((facts.rule, facts.outputs))
        if refused is not None:
            self.report_job_error(SubmittedJobInfo(job), msg=refused)
            return None
        return Prepared(handler, facts, spec)

    def never_again(self, facts: JobFacts, reason: str) -> None:
        """The job's next attempts fail at once with reason."""
        self._refused[(facts.rule, facts.outputs)] = reason

    def send(self, job: JobExecutorInterface, prepared: Prepared) -> None:
        """Submitted in the pool; reported as submitted at once (its name is known)."""
        handler, facts, spec = prepared.handler, prepared.facts, prepared.spec
        future = self.pool.submit(self._submit, handler, spec)
        aux = {"handler": handler, "facts": facts, "submit": future, "spec": spec}
        self.report_job_submission(SubmittedJobInfo(job, external_jobid=spec.name, aux=aux))
        self.trace.submitted(job, facts, spec)

    def _submit(self, handler: JobHandler, spec: Spec) -> JobState:
        """Adopt the job when a restarted run (same run id) already submitted it."""
        existing = self.client.get(spec.name) if self.adopting else None
        if existing is not None:
            return existing
        return handler.submit(spec)

    # status

    async def check_active_jobs(
        self, active_jobs: list[SubmittedJobInfo]
    ) -> AsyncGenerator[SubmittedJobInfo, None]:
        # Snakemake takes a round's jobs out of its active list until the round ends: kept here
        # (until each ends) so that a Ctrl-C during the round still cancels them.
        self._in_round = {info.external_jobid: info for info in active_jobs}
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
                self.trace.ended(info.external_jobid, "NotStarted")
                self._in_round.pop(info.external_jobid, None)
            else:
                submitted.append(info)
        if not submitted:
            return
        async with self.status_rate_limiter:
            found = self.poller.poll([info.external_jobid for info in submitted])
        labels = {info.external_jobid: info.aux["facts"].label for info in submitted}
        for restart in found.restarts:  # low-priority preemption: nothing to do but say so
            self.logger.warning(
                f"aml: job {restart.name} ({labels[restart.name]}) went from {restart.was} "
                f"back to {restart.now}: Azure ML restarts it (its low-priority node was "
                "preempted)"
            )
        active = {i.external_jobid: i for i in submitted if i.external_jobid not in found.ended}
        watched = {n: (labels[n], i.aux["spec"]) for n, i in active.items()}
        for move, spec in self.preemption.round(found.restarts, watched):
            self._move(active[move.job], move, spec)
        for info in submitted:
            ended = found.ended.get(info.external_jobid)
            if ended is None:
                self._log_progress(info)
                yield info
                continue
            state, result = ended
            wait = self._quota_wait(info) if result is Outcome.FAILED else None
            if wait is not None:  # refused for vCPU quota: sent again after a wait
                self.logger.warning(wait.line)
                self._resubmit(info, wait.spec, wait.delay_s)
                yield info
                continue
            self.trace.ended(info.external_jobid, state.status)
            self._report_end(info, state, result)
            self._in_round.pop(info.external_jobid, None)
        self.next_seconds_between_status_checks = self.poller.next_round(bool(found.ended))

    def _move(self, info: SubmittedJobInfo, move: Move, spec: Spec) -> None:
        """Preempted too often: cancel the job, send its copy to the dedicated cluster."""
        self.logger.warning(move.line())
        self.ends.canceled_here.add(move.job)
        try:
            self.client.cancel(move.job)
        except Exception as e:
            self.logger.error(f"aml: canceling {move.job} failed ({e}); cancel it in the Studio")
        self._resubmit(info, spec)

    def _quota_wait(self, info: SubmittedJobInfo) -> Wait | None:
        label = info.aux["facts"].label
        return self.quota_waits.after_failure(info.external_jobid, label, info.aux["spec"])

    def _resubmit(self, info: SubmittedJobInfo, spec: Spec, wait_s: float = 0) -> None:
        """The job goes on as `spec` (a new name), sent after `wait_s`."""
        old, info.external_jobid = info.external_jobid, spec.name
        handler = info.aux["handler"]
        submit = self.pool.submit(
            lambda: self.quota_waits.sleep(wait_s) or self._submit(handler, spec)
        )
        info.aux.update(spec=spec, submit=submit)
        self._in_round[spec.name] = self._in_round.pop(old, info)

    def _report_end(self, info: SubmittedJobInfo, state: JobState, result: Outcome) -> None:
        """Success, or the failure with its reason, Studio link and the handler's detail."""
        handler: JobHandler = info.aux["handler"]
        facts: JobFacts = info.aux["facts"]
        name, spec = info.external_jobid, info.aux["spec"]
        if result is Outcome.SUCCEEDED:
            unfinished = handler.unfinished(spec, facts)
            if unfinished is None:
                self.report_job_success(info)
                return
            msg, result = f"aml: job {name}: {unfinished}.\n", Outcome.FAILED
        else:
            verdict = self.ends.verdict(name, facts, state, result)
            if verdict.never_again:
                self.never_again(facts, verdict.never_again)
            msg = f"aml: job {name} {verdict.reason}.\n"
        studio_url = info.aux["submit"].result().studio_url  # status lookups do not carry it
        detail, aux_logs = handler.failure_detail(name, spec, facts, result)
        msg += f"Studio: {studio_url or 'n/a'}\n{detail}"
        self.report_job_error(info, msg=msg, aux_logs=aux_logs)

    def _log_progress(self, info: SubmittedJobInfo) -> None:
        if info.aux["submit"].done():  # not while a resubmission is on its way
            info.aux["handler"].log_progress(info.aux["spec"])

    def report_job_error(self, job_info: SubmittedJobInfo, msg=None, **kwargs) -> None:  # noqa: ANN001
        """Snakemake logs no message of a failed group job (GroupJob.log_error drops it)."""
        if msg and job_info.job is not None and job_info.job.is_group():
            self.logger.error(msg)
        super().report_job_error(job_info, msg, **kwargs)

    # cancellation

    def cancel_jobs(self, active_jobs: list[SubmittedJobInfo]) -> None:
        """Ctrl-C: cancel every job of the run that was (or is being) submitted, also those a
        status round holds."""
        self.quota_waits.stop()  # jobs waiting to be sent again are not sent
        held = {info.external_jobid: info for info in [*active_jobs, *self._in_round.values()]}
        active_jobs = list(held.values())
        for info in active_jobs:
            info.aux["submit"].cancel()
        names = [
            info.external_jobid
            for info in active_jobs
            if not info.aux["submit"].cancelled() and info.aux["submit"].exception() is None
        ]
        self.ends.canceled_here.update(names)
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
        self.mode.end(self)
        super().shutdown()
