"""The workflow's rules as `aml-genomics` sees them: command template, conda file, threads,
memory, pinned cluster or environment, and the rules whose outputs each one reads (the rule
graph of the whole workflow for the config, as `snakemake --rulegraph --forceall` prints it),
read once through Snakemake's API (no job runs).

Loading runs the Snakefile, so the config must be valid (the sample sheet and reference exist).
"""

from __future__ import annotations

import contextlib
import io
import re
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


DOT_NODE = re.compile(r'^\s*(\d+)\[label = "([^"]+)"')
DOT_EDGE = re.compile(r"^\s*(\d+) -> (\d+)\s*$")


def parse_rulegraph(dot: str) -> dict[str, set[str]]:
    """rule → the rules it depends on, from Snakemake's rule graph in DOT."""
    names = {m.group(1): m.group(2) for m in map(DOT_NODE.match, dot.splitlines()) if m}
    graph: dict[str, set[str]] = {name: set() for name in names.values()}
    for m in filter(None, map(DOT_EDGE.match, dot.splitlines())):
        graph[names[m.group(2)]].add(names[m.group(1)])
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


def _conda(rule: Any, workdir: Path) -> tuple[str, str] | None:
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
    """The rules with a shell command (`run:` and target-only rules have nothing to register)."""
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
        dot = io.StringIO()
        with contextlib.redirect_stdout(dot):
            # Snakemake compares print_dag_as with the enum's string (as its CLI passes it)
            dag = wf.dag(DAGSettings(forceall=True, print_dag_as=str(PrintDag.DOT)))
            dag.printrulegraph()
        graph = parse_rulegraph(dot.getvalue())
        for rule in wf._workflow.rules:  # the API has no public accessor for rules
            if not rule.shellcmd:
                continue
            res = rule.resources
            out.append(
                RuleFacts(
                    name=rule.name,
                    command=rule.shellcmd.strip(),
                    conda_file=_conda(rule, workdir),
                    threads=_fixed(res.get("_cores")),
                    mem_mb=_fixed(res.get("mem_mb")),
                    runtime=_fixed(res.get("runtime")),
                    aml_compute=_text(res.get("aml_compute")),
                    aml_environment=_text(res.get("aml_environment")),
                    description=(rule.docstring or "").strip().split("\n\n")[0],
                    upstream=tuple(sorted(graph.get(rule.name, ()))),
                )
            )
    return out
