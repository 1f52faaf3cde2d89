"""Where a failed job's Azure ML log is kept, and the excerpt shown in Snakemake's error."""

from __future__ import annotations

from pathlib import Path

LOG_ROOT = Path(".snakemake/aml_logs")


def log_path(rule: str, wildcards: dict[str, str], attempt: int, root: Path = LOG_ROOT) -> Path:
    """.snakemake/aml_logs/<rule>/<wildcards>/<attempt>.log"""
    folder = ",".join(f"{k}={v}" for k, v in sorted(wildcards.items())) or "no_wildcards"
    return root / rule / folder.replace("/", "_") / f"{attempt}.log"


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log (where a tool's error message usually is)."""
    with path.open(errors="replace") as f:
        return "".join(f.readlines()[-lines:])
