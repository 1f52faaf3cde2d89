"""`aml-genomics report [RUN]`: which trace, where the page goes. Needs no workspace: the
trace the run wrote holds everything the page shows."""

from __future__ import annotations

import os
from pathlib import Path

from aml_bridge.admin.run_report import multiqc_table, render
from aml_bridge.model.trace_read import read_trace

TRACE_DIR = Path(".snakemake/aml/trace")
REPORT_DIR = Path(".snakemake/aml/report")
MQC_SUFFIX = "_mqc.tsv"  # what MultiQC's custom content search picks up


class ReportUsageError(Exception):
    """A RUN without a trace, or an output the report cannot be (exit 2)."""


def find_trace(run: str | None, workdir: Path) -> Path:
    """The trace of `run` (a run id, or a trace file's path), or the newest one."""
    traces = workdir / TRACE_DIR
    if run is None:
        found = sorted(traces.glob("*.tsv"), key=lambda p: (p.stat().st_mtime, p.name))
        if not found:
            raise ReportUsageError(
                f"no trace in {traces}: a `snakemake --profile aml` run writes one"
            )
        return found[-1]
    given = Path(run)
    if given.is_file():
        return given
    by_id = traces / f"{run}.tsv"
    if "/" not in run and by_id.is_file():
        return by_id
    known = sorted(p.stem for p in traces.glob("*.tsv"))
    raise ReportUsageError(
        f"{run!r} is neither a trace file nor a run id with a trace in {traces}"
        + (f" (runs there: {', '.join(known)})" if known else " (it has none)")
    )


def write_report(
    trace: Path, output: Path | None, workdir: Path, multiqc: Path | None = None
) -> tuple[Path, int]:
    """Write the page (and the MultiQC table when asked); (page path, attempts)."""
    if multiqc is not None and not multiqc.name.endswith(MQC_SUFFIX):
        raise ReportUsageError(f"--multiqc {multiqc}: MultiQC reads only files named *{MQC_SUFFIX}")
    run_id = trace.stem
    attempts = read_trace(trace)  # before anything is written: a bad trace leaves nothing
    page = output or workdir / REPORT_DIR / f"{run_id}.html"
    _write(page, render(attempts, run_id))
    if multiqc is not None:
        _write(multiqc, multiqc_table(attempts, run_id))
    return page, len(attempts)


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a reader never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
