"""The registered component of a rule for the executor's group steps: used when the workspace
has the version this workflow gives the rule (as `aml-genomics setup` registers it), so that
Studio's page of that component version lists the pipeline jobs that ran it; otherwise the
step stays an anonymous component, as without setup.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from aml_bridge.model.specs.common import RunContext
from aml_bridge.model.workflow_rules import rule_facts, rule_graph
from aml_bridge.model.workspace_plan import ComponentWanted, component, rule_environment


class RegisteredComponents:
    """`reference(rule, environment id)`: `azureml:<name>:<version>` or None, asked of the
    workspace once per rule and run."""

    def __init__(
        self, workflow: Any, run: RunContext, registered: Callable[[ComponentWanted], bool]
    ) -> None:
        self._workflow = workflow  # Snakemake's Workflow: its rules and DAG
        self._run = run
        self._registered = registered
        self._known: dict[str, ComponentWanted | None] = {}
        self._graph: dict[str, set[str]] | None = None

    def reference(self, rule: str, environment_id: str) -> str | None:
        """None also when the step's environment is not the component's (e.g. with a default
        --aml-environment): the component would run the jobs elsewhere."""
        if rule not in self._known:
            self._known[rule] = self._find(rule)
        found = self._known[rule]
        if found is None or found.environment.registered_id != environment_id:
            return None
        return found.reference

    def _find(self, rule: str) -> ComponentWanted | None:
        from azure.core.exceptions import AzureError

        wanted = self._wanted(rule)
        try:
            return wanted if wanted and self._registered(wanted) else None
        except AzureError:  # the workspace could not say: the step stays anonymous
            return None

    def _wanted(self, name: str) -> ComponentWanted | None:
        workdir = Path(self._workflow.workdir_init)
        rules = {r.name: r for r in self._workflow.rules if r.shellcmd}
        if name not in rules:
            return None
        if self._graph is None:  # one pass over the DAG's dependencies, however many rules
            self._graph = rule_graph(self._workflow.dag)
        upstream = self._graph.get(name, set())
        facts = rule_facts(rules[name], workdir, upstream)
        env = rule_environment(facts, self._run.base_image, self._run.pip)
        return component(facts, env, set(rules))
