"""The run id of an unfinished run, kept in the working directory so that a restarted
Snakemake (after kill -9, a crash, a lost terminal) adopts the jobs it left active instead of
submitting them again. Removed when a run ends (shutdown); a killed run leaves it behind."""

from __future__ import annotations

import re
from pathlib import Path

from aml_bridge.model.settings import NAME_RULES

RUN_ID_FILE = Path(".snakemake/aml/run_id")


def unfinished_run(path: Path = RUN_ID_FILE) -> str | None:
    """The run id a killed run left behind, or None (also for an unreadable file)."""
    try:
        run_id = path.read_text().strip()
    except OSError:
        return None
    return run_id if re.match(NAME_RULES["run_id"][0], run_id) else None


def remember_run(run_id: str, path: Path = RUN_ID_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run_id + "\n")


def finished_run(path: Path = RUN_ID_FILE) -> None:
    path.unlink(missing_ok=True)
