"""The workflow's rules as `aml-genomics` sees them: command template, conda file, threads,
memory, pinned cluster or environment, and the rules whose outputs each one reads (the rule
graph of the whole workflow for the config, as `snakemake --rulegraph --forceall` prints it),
read once through Snakemake's API (no job runs).

Loading runs the Snakefile, so the config must be valid (the sample sheet and reference exist).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RuleFacts:
    name: str
    command: str  # the shell command template, as written in the rule
    conda_file: tuple[str, str] | None  # (path relative to the workdir, text)
    threads: int | None  # None: computed per job (a function of the input)
    mem_mb: int | None
    runtime: int | None
    aml_compute: str | None = None
    aml_environment: str | None = None
    description: str = ""
    upstream: tuple[str, ...] = ()  # rules whose outputs this rule's jobs read, sorted


def rule_graph(dag: Any) -> dict[str, set[str]]:
    """rule → the rules whose outputs its jobs read, over the jobs of a Snakemake DAG."""
    graph: dict[str, set[str]] = {}
    for job, deps in dag.dependencies.items():
        graph.setdefault(job.rule.name, set()).update(d.rule.name for d in deps)
    return graph


def _raw(resource: Any) -> Any:
    """A resource's declared value; None when it is computed per job (Snakemake's Resource)."""
    if resource is None or (hasattr(resource, "is_evaluable") and resource.is_evaluable()):
        return None
    return getattr(resource, "value", resource)


def _fixed(resource: Any) -> int | None:
    value = _raw(resource)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(resource: Any) -> str | None:
    value = _raw(resource)
    return value if isinstance(value, str) else None


def conda_file(rule: Any, workdir: Path) -> tuple[str, str] | None:
    """(path relative to workdir, text) of the rule's conda file."""
    spec = rule.conda_env
    if spec is None:
        return None
    path = Path(str(spec.file.get_path_or_uri(secret_free=True)) if hasattr(spec, "file") else spec)
    if not path.is_absolute():
        path = Path(rule.snakefile).parent / path
    path = path.resolve()
    try:
        shown = str(path.relative_to(workdir.resolve()))
    except ValueError:
        shown = str(path)
    return shown, path.read_text()


def load_rules(snakefile: Path, workdir: Path, config: Mapping[str, Any]) -> list[RuleFacts]:
    """The rules with a shell command, their upstream rules from the DAG of every job."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        OutputSettings,
        PrintDag,
        Quietness,
        ResourceSettings,
        StorageSettings,
    )

    out = []
    with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
        wf = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(config=dict(config)),
            storage_settings=StorageSettings(),
            snakefile=snakefile,
            workdir=workdir,
        )
        with contextlib.redirect_stdout(io.StringIO()):  # builds the DAG of every job
            wf.dag(DAGSettings(forceall=True, print_dag_as=str(PrintDag.DOT))).printrulegraph()
        graph = rule_graph(wf._workflow.dag)  # the API has no public accessor for the DAG...
        for rule in wf._workflow.rules:  # ...nor for rules
            facts = rule_facts(rule, workdir, graph.get(rule.name, set()))
            if facts is not None:
                out.append(facts)
    return out


def rule_facts(rule: Any, workdir: Path, upstream: set[str]) -> RuleFacts | None:
    """A Snakemake rule's facts; None for a rule without a shell command (`run:` and
    target-only rules have nothing to register)."""
    if not rule.shellcmd:
        return None
    res = rule.resources
    return RuleFacts(
        name=rule.name,
        command=rule.shellcmd.strip(),
        conda_file=conda_file(rule, workdir),
        threads=_fixed(res.get("_cores")),
        mem_mb=_fixed(res.get("mem_mb")),
        runtime=_fixed(res.get("runtime")),
        aml_compute=_text(res.get("aml_compute")),
        aml_environment=_text(res.get("aml_environment")),
        description=(rule.docstring or "").strip().split("\n\n")[0],
        upstream=tuple(sorted(upstream)),
    )
