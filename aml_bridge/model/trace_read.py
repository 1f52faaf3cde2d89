"""Read a run's trace TSV (`.snakemake/aml/trace/<run id>.tsv`, one row per job attempt; the
format is the trace writer's contract) into typed rows, refusing what does not fit it: a report
built from a misread column would be a wrong figure without a word."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# The trace format, written by run_trace.py and refused here when a file does not follow it.
COLUMNS = (
    "jobid", "rule", "wildcards", "sample", "aml_job", "step", "cluster", "vm_size", "tier",
    "nodes", "attempt", "status", "submitted", "started", "ended", "queue_s", "run_s", "node_s",
    "price_per_hour", "cost_usd", "note",
)  # fmt: skip
REQUIRED = ("jobid", "rule", "attempt")  # a row without them cannot be placed
INTS = ("jobid", "nodes", "attempt")
FLOATS = ("queue_s", "run_s", "node_s", "price_per_hour", "cost_usd")
TIMES = ("submitted", "started", "ended")
TIERS = ("dedicated", "low_priority")


class TraceError(ValueError):
    """A trace that does not follow the format, named by file and line."""


@dataclass(frozen=True)
class Attempt:
    """One attempt of one Snakemake job; None where the trace says unknown (empty)."""

    jobid: int
    rule: str
    wildcards: str
    sample: str
    aml_job: str
    step: str
    cluster: str
    vm_size: str
    tier: str
    nodes: int | None
    attempt: int
    status: str
    submitted: datetime | None
    started: datetime | None
    ended: datetime | None
    queue_s: float | None
    run_s: float | None
    node_s: float | None
    price_per_hour: float | None
    cost_usd: float | None
    note: str

    @property
    def job(self) -> str:
        """The job as a user names it: rule and wildcards."""
        return f"{self.rule}[{self.wildcards}]" if self.wildcards else self.rule


def read_trace(path: Path) -> list[Attempt]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise TraceError(f"{path}: not UTF-8 text ({e})") from None
    return parse_trace(text, str(path))


def parse_trace(text: str, source: str) -> list[Attempt]:
    lines = list(csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))
    if not lines:
        raise TraceError(f"{source}: empty (expected a header line: {' '.join(COLUMNS)})")
    header = tuple(lines[0])
    if header != COLUMNS:
        wrong = next(
            (f"column {i + 1} is {h!r}, expected {c!r}" for i, (h, c) in
             enumerate(zip(header, COLUMNS, strict=False)) if h != c),
            f"{len(header)} columns, expected {len(COLUMNS)}",
        )  # fmt: skip
        raise TraceError(f"{source} line 1: not a trace header: {wrong}")
    rows = []
    for number, fields in enumerate(lines[1:], start=2):
        if not fields:
            continue  # a trailing empty line
        if len(fields) != len(COLUMNS):
            raise TraceError(
                f"{source} line {number}: {len(fields)} fields, expected {len(COLUMNS)}"
            )
        rows.append(_attempt(dict(zip(COLUMNS, fields, strict=True)), f"{source} line {number}"))
    return rows


def _attempt(raw: dict[str, str], where: str) -> Attempt:
    for name in REQUIRED:
        if not raw[name]:
            raise TraceError(f"{where}: column {name} is empty")
    if raw["tier"] and raw["tier"] not in TIERS:
        raise TraceError(f"{where}: column tier is {raw['tier']!r}, expected one of {TIERS}")
    values: dict[str, object] = dict(raw)
    for name in INTS + FLOATS + TIMES:
        text = raw[name]
        if not text:
            values[name] = None
            continue
        try:
            if name in INTS:
                values[name] = int(text)
            elif name in FLOATS:
                values[name] = _finite(text)
            else:
                values[name] = _utc(text)
        except ValueError:
            kind = "an integer" if name in INTS else "a number" if name in FLOATS else (
                "an ISO 8601 UTC time (e.g. 2026-12-07T13:01:02Z)")  # fmt: skip
            raise TraceError(f"{where}: column {name} is {text!r}, not {kind}") from None
    return Attempt(**values)  # type: ignore[arg-type]


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() is None or moment.utcoffset().total_seconds() != 0:
        raise ValueError(text)
    return moment
