"""One parallel step, three paths: a group's pipeline job (the executor), the rule's registered
component (`aml-genomics setup`) and the rule's node of an exported pipeline (`aml-genomics
export`) spell the same step for the same rule (pure)."""

import dataclasses

import pytest

from aml_bridge.model.export import ExportedRule, ExportedRun, pipeline_yaml
from aml_bridge.model.specs.pipeline import build_pipeline_spec, members_of
from aml_bridge.model.workflow_rules import RuleFacts
from aml_bridge.model.workspace_plan import component, rule_environment
from tests.executor.test_translate import CONDA, RUN, facts

DATASTORE = "azureml://datastores/workspaceblobstore/paths/out/.snakemake/aml/"
GROUPED = dataclasses.replace(RUN, group_root=f"{DATASTORE}groups/", plugin_bundle=DATASTORE)
RULE = RuleFacts(
    name="bwa_mem", command="bwa mem {input} > {output}", conda_file=("envs/bwa.yaml", CONDA),
    threads=4, mem_mb=6000, runtime=90,
)  # fmt: skip
WHAT_RUNS = ("type", "input_data", "mini_batch_size", "error_threshold", "logging_level")
NODE = (
    "type", "display_name", "compute", "resources", "max_concurrency_per_instance",
    "environment_variables",
)  # fmt: skip


@pytest.mark.parametrize("n", [1, 3])
def test_executor_setup_and_export_spell_one_step(n):
    jobs = [
        facts(wildcards={"sample": f"S{i}"}, outputs=(f"m/S{i}.bam",), retries=2) for i in range(n)
    ]
    group = facts(rule="group_bwa_mem", wildcards={}, outputs=("m",), command="")
    spec = build_pipeline_spec(GROUPED, group, "bwa_mem", members_of(jobs))
    inline = spec.to_yaml("code", inline_environment=False)["jobs"]["members"]
    registered = component(RULE, rule_environment(RULE, RUN.base_image, RUN.pip), {"bwa_mem"})
    with_component = dataclasses.replace(spec, component=registered.reference)
    referencing = with_component.to_yaml("code")["jobs"]["members"]
    # export places a rule's jobs as the executor places a group (aml_bridge.executor.export_jobs)
    placed = build_pipeline_spec(GROUPED, group, "bwa_mem", members_of(jobs), standalone=True)
    exported = ExportedRun("r1", "exp", DATASTORE, (ExportedRule.of("bwa_mem", placed, ()),))
    node = pipeline_yaml(exported, {"bwa_mem": registered.reference})["jobs"]["bwa_mem"]

    # what runs: the registered component is the executor's inline step (entry script, its
    # arguments, the environment, rows, mini-batches, error thresholds; inputs and outputs)
    comp = registered.spec
    assert {k: inline[k] for k in WHAT_RUNS} == {k: comp[k] for k in WHAT_RUNS}
    assert inline["task"] == {**comp["task"], "code": "code"}
    assert inline["task"]["environment"] == spec.environment.registered_id
    for side in ("inputs", "outputs"):
        assert set(inline[side]) == set(comp[side]) == set(referencing[side]) == set(node[side])
    # how: the same node settings, the same label, on each path
    assert {k: referencing[k] for k in NODE} == {k: node[k] for k in NODE}
    assert {k: inline[k] for k in NODE} == {k: node[k] for k in NODE}
    assert (
        node["display_name"]
        == spec.display_name
        == ("bwa_mem[1 job]" if n == 1 else "bwa_mem[3 jobs]")
    )
    assert referencing["component"] == node["component"] == registered.reference
    # retries: Snakemake retries the executor's group, so its step does not and runs every
    # member to its end; an exported pipeline runs without Snakemake, so its node retries the
    # rule's retries and a member still failing fails it (as the component says)
    assert inline["retry_settings"] == referencing["retry_settings"]
    assert inline["retry_settings"] == {"max_retries": 0, "timeout": 90 * 60}
    assert node["retry_settings"] == {"max_retries": 2, "timeout": 90 * 60}
    assert inline["mini_batch_error_threshold"] == referencing["mini_batch_error_threshold"] == -1
    assert node["mini_batch_error_threshold"] == comp["mini_batch_error_threshold"] == 0
