"""The executor's export mode (`--aml-export-jobs FILE`, as `aml-genomics export` runs
Snakemake, with --immediate-submit so that every job that needs to run is handed over at once).

Each job is recorded instead of submitted: its rule, inputs, outputs and its own Snakemake
command (as for a group member). When the run ends, the jobs of each rule are placed as one
group's parallel step would be (cluster, nodes, concurrency, retries: `build_pipeline_spec`),
their manifests uploaded, and the rules written as an `ExportedRun`. Snakemake deletes the
sources archive its jobs deploy from at the end of a run; a copy under the export's folder is
kept for the exported pipeline, and the recorded commands name the copy.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from aml_bridge.executor.job_facts import job_facts
from aml_bridge.model.export import ExportedRule, ExportedRun
from aml_bridge.model.group_files import GroupFiles
from aml_bridge.model.specs.common import JobFacts, RunContext
from aml_bridge.model.specs.pipeline import build_pipeline_spec, members_of
from snakemake_storage_plugin_azureml.query import parse_query

DEPLOY_SOURCES = re.compile(r"--deploy-sources (\S+) ")


@dataclass(frozen=True)
class RecordedJob:
    facts: JobFacts
    inputs: tuple[str, ...]


class JobRecorder:
    def __init__(self, path: Path, run: RunContext, datastore_of: Callable | None) -> None:
        """`datastore_of`: the azureml storage provider's `datastore` (None: another storage)."""
        self.path = path
        self.run = run
        self._datastore_of = datastore_of
        self.jobs: list[RecordedJob] = []

    def add(self, job, format_job_exec: Callable[..., str]) -> None:
        """The job (each member of a group) with its own Snakemake command."""
        for member in job.jobs if job.is_group() else [job]:
            facts = job_facts(member, format_job_exec(member))
            self.jobs.append(RecordedJob(facts, tuple(str(f) for f in member.input)))

    def write(self) -> ExportedRun:
        """Place and upload each rule's jobs; the ExportedRun, also written to `path`.
        ValueError names what cannot be exported."""
        if not self._datastore_of or not self.run.group_root or not self.run.plugin_bundle:
            raise ValueError("export needs the azureml default storage (jobs' manifests go there)")
        jobs = self._with_kept_sources(self.jobs)
        producer = {out: j.facts.rule for j in jobs for out in j.facts.outputs}
        by_rule: dict[str, list[RecordedJob]] = {}
        for j in jobs:
            by_rule.setdefault(j.facts.rule, []).append(j)
        rules = []
        for rule, recorded in sorted(by_rule.items()):
            upstream = {producer[f] for j in recorded for f in j.inputs if f in producer}
            if rule in upstream:
                raise ValueError(
                    f"rule {rule}: its jobs read each other's outputs, so they cannot run as "
                    "one parallel node"
                )
            rules.append(self._place(rule, [j.facts for j in recorded], tuple(sorted(upstream))))
        exported = ExportedRun(
            self.run.run_id, self.run.experiment, self.run.plugin_bundle, tuple(rules)
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(exported.to_json())
        return exported

    def _place(self, rule: str, facts: list[JobFacts], upstream: tuple[str, ...]) -> ExportedRule:
        biggest = max(facts, key=lambda f: (f.threads, f.resources.get("mem_mb") or 0))
        outputs = tuple(o for f in facts for o in f.outputs)
        group = replace(biggest, wildcards={}, outputs=outputs, command="")
        spec = build_pipeline_spec(self.run, group, rule, members_of(facts), standalone=True)
        GroupFiles(self._datastore_of).upload_manifests(spec)
        return ExportedRule.of(rule, spec, upstream)

    def _with_kept_sources(self, jobs: list[RecordedJob]) -> list[RecordedJob]:
        """The jobs with commands that deploy a kept copy of Snakemake's sources archive."""
        found = {m.group(1) for j in jobs for m in DEPLOY_SOURCES.finditer(j.facts.command)}
        if not found:
            return jobs
        (query,) = found  # one archive per run
        kept = f"{self.run.group_root.rstrip('/')}/{self.run.run_id}/{query.rsplit('/', 1)[-1]}"
        source, target = parse_query(query), parse_query(kept)
        store = self._datastore_of(source.datastore)
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp, "sources.tar.xz")
            store.retrieve_file(store.stat(source.path), local)
            self._datastore_of(target.datastore).store_file(local, target.path)
        return [
            replace(j, facts=replace(j.facts, command=j.facts.command.replace(query, kept)))
            for j in jobs
        ]
