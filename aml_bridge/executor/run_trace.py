"""The run trace: one row per attempt of each Snakemake job, with its queue and run times, the
node-seconds it held and their list-price cost (format: README "Trace").

Fed by the executor: what a job is when it is submitted, its Azure ML status when a status
round finds it ended; the times come from run history (`AmlClient.run_end`). A parallel step's
node time (its run time x its nodes) is split among its members by their own run times (the
`.times` the entry script leaves beside their logs). The file is rewritten as jobs end, so it
is complete when the run ends. Reading a trace's facts never fails the run: a job whose times
cannot be read keeps its row with what is known and a note.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from aml_bridge.gateway.client import AmlClient, RunEnd
from aml_bridge.gateway.retail_prices import api_url, fetch_prices
from aml_bridge.model.clusters import Cluster
from aml_bridge.model.group_files import GroupFiles
from aml_bridge.model.prices import key, load_prices
from aml_bridge.model.specs.command import CommandJobSpec
from aml_bridge.model.specs.common import JobFacts
from aml_bridge.model.specs.parallel_step import STEP
from aml_bridge.model.specs.pipeline import PipelineJobSpec
from aml_bridge.model.trace_read import COLUMNS  # the format's one owner: the reader checks it

TRACE_ROOT = Path(".snakemake/aml/trace")


@dataclass
class Row:
    """One attempt of one Snakemake job; times and cost filled in when it ends."""

    jobid: int
    facts: JobFacts
    aml_job: str
    cluster: Cluster | None
    vm_size: str
    tier: str
    nodes: int
    submitted: datetime
    step: str = ""
    status: str = ""
    started: datetime | None = None
    ended: datetime | None = None
    run_s: float | None = None
    node_s: float | None = None
    price: float | None = None
    note: str = ""

    def values(self) -> list[str]:
        f = self.facts
        queue_s = (self.started - self.submitted).total_seconds() if self.started else None
        priced = self.node_s is not None and self.price is not None
        cost = self.node_s / 3600 * self.price if priced else None
        return [
            str(self.jobid), f.rule, ",".join(f"{k}={v}" for k, v in f.wildcards.items()),
            f.wildcards.get("sample", ""), self.aml_job, self.step,
            self.cluster.name if self.cluster else "", self.vm_size, self.tier, str(self.nodes),
            str(f.attempt), self.status, _iso(self.submitted), _iso(self.started),
            _iso(self.ended), _num(queue_s, 1), _num(self.run_s, 1), _num(self.node_s, 1),
            _num(self.price, 4), _num(cost, 4), self.note,
        ]  # fmt: skip


def _utc(moment: datetime | None) -> datetime | None:
    """Run history's times are UTC; a naive one is taken as such."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def _num(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def cluster_prices(
    clusters: tuple[Cluster, ...],
    user_table: Path | None,
    refresh: bool,
    endpoint: str | None,
    logger: logging.Logger,
) -> dict[tuple[str, str, str], float]:
    """The price table (shipped, the user's on top); with refresh, the clusters' sizes as the
    Retail Prices API lists them now (a failed refresh keeps the table, with a warning)."""
    prices = load_prices(user_table)
    if not refresh:
        return prices
    for size, region in sorted({(c.sku or c.vm_size, c.region) for c in clusters if c.region}):
        try:
            found = fetch_prices(api_url(endpoint), size, region)
        except Exception as e:
            logger.warning(f"aml: refreshing the price of {size} in {region} failed ({e})")
            continue
        if not found:
            logger.warning(f"aml: the Retail Prices API lists no price of {size} in {region}")
        prices.update(found)
    return prices


@dataclass
class RunTrace:
    run_id: str
    client: AmlClient
    clusters: tuple[Cluster, ...]
    prices: dict[tuple[str, str, str], float]
    group_files: GroupFiles | None
    logger: logging.Logger
    root: Path = TRACE_ROOT
    _rows: list[Row] = field(default_factory=list)
    _pending: dict[str, list[Row]] = field(default_factory=dict)  # Azure ML job → its rows
    _specs: dict[str, PipelineJobSpec] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.root / f"{self.run_id}.tsv"

    def submitted(self, job, facts: JobFacts, spec: CommandJobSpec | PipelineJobSpec) -> None:  # noqa: ANN001 - a Snakemake job
        """A job (or group) sent to Azure ML: its rows, to be completed when it ends."""
        now = datetime.now(UTC)
        if isinstance(spec, PipelineJobSpec):
            self._specs[spec.name] = spec
            jobids = {tuple(str(f) for f in m.output): m.jobid for m in job.jobs}
            rows = [
                self._row(jobids.get(m.facts.outputs, 0), m.facts, spec.name, spec.compute, now)
                for m in spec.members
            ]
            rows = [replace(r, step=STEP, nodes=spec.instance_count) for r in rows]
        else:
            rows = [self._row(job.jobid, facts, spec.name, spec.compute, now)]
            if spec.compute is None:  # serverless: the instance type is the VM size
                rows[0].vm_size = spec.instance_type or ""
                rows[0].tier = "low_priority" if spec.low_priority else "dedicated"
        self._pending[spec.name] = rows
        self._rows += rows
        self._write()

    def _row(
        self, jobid: int, facts: JobFacts, name: str, compute: str | None, now: datetime
    ) -> Row:
        cluster = next((c for c in self.clusters if c.name == compute), None)
        size = (cluster.sku or cluster.vm_size) if cluster else ""
        tier = cluster.tier if cluster else ""
        row = Row(jobid, facts, name, cluster, size, tier, 1, now)
        if cluster is None and compute:
            row.note = f"cluster {compute} was not read from the workspace: no VM size or price"
        return row

    def ended(self, name: str, status: str) -> None:
        """The job's Azure ML status at its end; its times read from run history."""
        rows = self._pending.pop(name, None)
        if rows is None:
            return
        for row in rows:
            row.status = status
        try:
            spec = self._specs.pop(name, None)
            if spec is None:
                self._command_ended(name, rows[0])
            else:
                self._step_ended(name, spec, rows)
        except Exception as e:
            for row in rows:
                row.note = _join(row.note, f"times not read: {e}")
            self.logger.warning(f"aml: reading the run times of {name} failed ({e})")
        self._write()

    def _command_ended(self, name: str, row: Row) -> None:
        end = self.client.run_end(name)
        self._timed(row, end.started, end.ended, end.ran_s)

    def _timed(
        self, row: Row, started: datetime | None, ended: datetime | None, run_s: float | None
    ) -> None:
        row.started, row.ended, row.run_s = _utc(started), _utc(ended), run_s
        row.node_s = run_s * row.nodes if run_s is not None else None
        self._price(row)

    def _price(self, row: Row) -> None:
        if row.cluster is None:
            return
        region = row.cluster.region
        row.price = self.prices.get(key(row.vm_size, region, row.tier))
        if row.price is None:
            row.note = _join(row.note, f"no list price of {row.vm_size} ({row.tier}) in {region}")

    def _step_ended(self, name: str, spec: PipelineJobSpec, rows: list[Row]) -> None:
        """The step's node time, split among its members by their run times."""
        steps = self.client.steps(name)
        ends = [self.client.run_end(step) for step in steps]
        ends = [e for e in ends if e.ran_s is not None] or [RunEnd(None, None)]
        step_s = sum(e.ran_s or 0.0 for e in ends)
        files = self.group_files
        times = files.member_times(spec) if files is not None else {}
        by_id = {m.facts.outputs: m.id for m in spec.members}
        ran = {r.facts.outputs: times.get(by_id[r.facts.outputs], []) for r in rows}
        total = sum(end - start for runs in ran.values() for start, end in runs)
        for row in rows:
            runs = ran[row.facts.outputs]
            if ends[0].ran_s is None:
                row.note = _join(row.note, "the step's run times are unknown")
                continue
            own = sum(end - start for start, end in runs)
            share = own / total if total else 1 / len(rows)
            if not total:
                row.note = _join(row.note, "members' run times unknown: node time split evenly")
            first = datetime.fromtimestamp(min(s for s, _ in runs), UTC) if runs else None
            last = datetime.fromtimestamp(max(e for _, e in runs), UTC) if runs else None
            row.started = first or _utc(ends[0].started)
            row.ended = last or _utc(ends[-1].ended)
            row.run_s = own if runs else None
            row.node_s = step_s * spec.instance_count * share
            self._price(row)

    def close(self) -> None:
        """The run ends: jobs it never saw end (Ctrl-C) get their status as it is now."""
        for name in list(self._pending):
            try:
                state = self.client.get(name)
            except Exception:
                state = None
            self.ended(name, state.status if state else "")
        self._write()

    def _write(self) -> None:
        """The whole trace, replaced at once (a reader never sees half a file)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(".tsv.partial")
            lines = ["\t".join(COLUMNS), *("\t".join(r.values()) for r in self._rows)]
            partial.write_text("\n".join(lines) + "\n")
            os.replace(partial, self.path)
        except OSError as e:
            self.logger.warning(f"aml: writing the run trace {self.path} failed ({e})")


def _join(note: str, more: str) -> str:
    return f"{note}; {more}" if note else more
