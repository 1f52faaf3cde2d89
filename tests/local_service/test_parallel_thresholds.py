"""The parallel runtime's retry and threshold semantics, driven directly (worker processes, no
service): a short return is retried like a raising run(); `mini_batch_error_threshold` counts
mini-batches still failing after their retries, `error_threshold` failed items as tries fail."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from aml_local.builds import Build
from aml_local.parallel_runtime import ParallelSettings, ParallelStep
from aml_local.runner import Stop

# Items named "short*" get no row on their first try, "bad*" never; every try leaves a mark.
ENTRY = """
import os
from pathlib import Path

MARKS = Path(os.environ["MARKS"])

def run(mini_batch):
    rows = []
    for item in mini_batch:
        name = Path(item).name
        tries = MARKS / f"try-{name}"
        with tries.open("a") as f:
            f.write("x")
        if name.startswith("bad") or (name.startswith("short") and len(tries.read_text()) == 1):
            continue
        rows.append(f"{name} ok")
    return rows
"""


def run_step(tmp_path: Path, names: list[str], **settings) -> tuple[object, Path]:
    code, items, marks = (tmp_path / d for d in ("code", "items", "marks"))
    for folder in (code, items, marks):
        folder.mkdir()
    (code / "entry.py").write_text(ENTRY)
    for name in names:
        (items / name).write_text("x")
    step = ParallelStep(
        ParallelSettings(entry_script="entry.py", program_arguments=[], **settings),
        sorted(str(p) for p in items.iterdir()),
        code,
        tmp_path / "logs",
        {"PATH": os.environ["PATH"], "MARKS": str(marks), "PYTHONPATH": sys.path[0]},
        Stop(),
        Build(),  # an image-only environment: this machine's Python, as the entry script needs
    )
    return step.run(), marks


def test_a_short_return_is_retried_and_its_rows_counted_once(tmp_path):
    result, marks = run_step(
        tmp_path, ["a.txt", "short.txt"], mini_batch_size=2, max_retries=1,
        mini_batch_error_threshold=0,
    )  # fmt: skip
    assert result.failed == ""
    assert sorted(result.rows) == ["a.txt ok", "short.txt ok"]  # the first try's row dropped
    assert (marks / "try-short.txt").read_text() == "xx"


def test_mini_batch_threshold_counts_batches_failing_after_their_retries(tmp_path):
    result, marks = run_step(
        tmp_path, ["a.txt", "short.txt", "bad.txt"], max_retries=1, mini_batch_error_threshold=0
    )
    assert "1 mini-batch(es) failed after 1 retries" in result.failed
    assert (marks / "try-bad.txt").read_text() == "xx"  # retried before it counted
    assert "a.txt ok" in result.rows and "bad.txt ok" not in result.rows


def test_error_threshold_counts_failed_items_before_their_retries(tmp_path):
    # the short item would succeed on its retry, but its failed first try already counts
    result, _ = run_step(tmp_path, ["a.txt", "short.txt"], max_retries=2, error_threshold=0)
    assert "1 item(s) failed, more than error_threshold 0" in result.failed


def test_minus_one_disables_both_thresholds(tmp_path):
    result, marks = run_step(tmp_path, ["a.txt", "bad.txt", "bad2.txt"], max_retries=1)
    assert result.failed == ""
    assert result.rows == ["a.txt ok"]
    assert (marks / "try-bad2.txt").read_text() == "xx"
    assert "2 mini-batch(es) and 4 item(s) failed" in (tmp_path / "logs/job_result.txt").read_text()
