"""The executor's check at start: every rule's environments can be built.

A conda file no solver can build (two pythons, pins that cannot both hold, a python Snakemake
does not support) would otherwise fail each of its jobs in Azure ML's image build, minutes in
and after the run's uploads; refused here it fails the run before any upload or submission.
Rules whose conda file or image depends on wildcards, or that name a conda environment instead
of a file, are checked as each job is submitted (aml_bridge.model.specs.common.job_environment).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aml_bridge.model.environments import choose_environment
from aml_bridge.model.workflow_rules import conda_file


def _static(value: Any) -> bool:
    return isinstance(value, str) and "{" not in value


def environment_problems(
    rules: list[Any], workdir: Path, *, base_image: str, pip: list[str], default: str | None
) -> list[str]:
    """Why the built environments (both flavours) of Snakemake rules cannot be built, each
    message naming the rule, the conda file and the specs; [] when all can."""
    problems: dict[str, None] = {}  # ordered, each message once
    for rule in rules:
        if rule.norun or rule.resources.get("aml_environment"):
            continue
        container = rule.container_img
        if container and not _static(container):
            continue
        conda = None
        if not container and rule.conda_env:
            if not _static(rule.conda_env):
                continue
            try:
                conda = conda_file(rule, workdir)
            except OSError:  # an environment name, not a file: refused at submission
                continue
        for parallel in (False, True):
            try:
                choose_environment(
                    aml_environment=None, container_image=container or None,
                    conda_file=conda, default_environment=default, base_image=base_image,
                    pip=pip, parallel=parallel,
                )  # fmt: skip
            except ValueError as e:
                problems[f"rule {rule.name}: {e}"] = None
    return list(problems)
