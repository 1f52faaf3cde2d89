"""Where a failed job's Azure ML log is kept, and the excerpt shown in Snakemake's error."""

from __future__ import annotations

import re
from pathlib import Path

LOG_ROOT = Path(".snakemake/aml_logs")


def log_path(rule: str, wildcards: dict[str, str], attempt: int, root: Path = LOG_ROOT) -> Path:
    """.snakemake/aml_logs/<rule>/<wildcards>/<attempt>.log"""
    folder = ",".join(f"{k}={v}" for k, v in sorted(wildcards.items())) or "no_wildcards"
    return root / rule / folder.replace("/", "_") / f"{attempt}.log"


# Lines that state an error: the workflow's own (ERROR: ...), htslib's ([E::...]), Snakemake's.
ERROR_LINE = re.compile(r"^(ERROR|Error|\[E::|error:)")


def excerpt(path: Path, lines: int = 20, max_errors: int = 10) -> str:
    """The error lines of a log, then its last lines: a tool's message often sits above the
    long traceback Snakemake ends a failed job's log with."""
    with path.open(errors="replace") as f:
        text = f.readlines()
    last = text[-lines:]
    errors = [line for line in text[: len(text) - len(last)] if ERROR_LINE.match(line)]
    return "".join([*errors[:max_errors], *(["...\n"] if errors else []), *last])
