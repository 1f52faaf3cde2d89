"""The project's own checks: Snakemake's linter, snakefmt and ruff find nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.fixtures.workflow import copy_workflow, make_demo_data, snakemake

ROOT = Path(__file__).resolve().parents[1]


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)


def test_snakemake_lint_has_no_findings(tmp_path: Path) -> None:
    wf = copy_workflow(tmp_path / "wf")
    make_demo_data(wf / "demo", "--pairs", "10", "--genome-size", "1000")
    proc = snakemake(wf, "--lint", "--config", "samples=demo/samples.tsv")
    assert "Lints for" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_snakefmt_check() -> None:
    proc = run("snakefmt", "--check", "workflow")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_check_and_format() -> None:
    check = run("ruff", "check", ".")
    assert check.returncode == 0, check.stdout
    fmt = run("ruff", "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout
