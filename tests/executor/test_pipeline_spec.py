"""A group of independent Snakemake jobs → one pipeline job with one parallel step (pure)."""

import dataclasses

import pytest
import yaml
from azure.ai.ml import load_job

from aml_bridge.model.names import TAGS_MAX
from aml_bridge.model.specs.command import build_spec
from aml_bridge.model.specs.pipeline import build_pipeline_spec, members_of
from aml_bridge.model.specs.tags import OWN_TAGS, user_tags_allowed
from tests.executor.test_translate import RUN, SERVERLESS, facts

ROOT = "azureml://datastores/workspaceblobstore/paths/out/.snakemake/aml/groups/"
GROUPED = dataclasses.replace(RUN, group_root=ROOT)


def group_facts(**change):
    base = dict(rule="group_bwa_mem", wildcards={}, outputs=("a", "b"), command="")
    return facts(**{**base, **change})


def members(n: int, **change):
    return members_of(
        [
            facts(wildcards={"sample": f"S{i}"}, outputs=(f"results/mapped/S{i}.bam",), **change)
            for i in range(n)
        ]
    )


def test_group_is_a_pipeline_with_one_parallel_step_sized_to_the_cluster(tmp_path):
    spec = build_pipeline_spec(GROUPED, group_facts(), "bwa_mem", members(5, retries=2))
    assert spec.display_name == "bwa_mem[5 jobs]"
    assert spec.tags["snakemake_group"] == "bwa_mem" and spec.tags["snakemake_run_id"] == "r1a2b3c4"
    assert spec.compute == "genomics-cluster"  # the smallest a member (4 threads) fits
    assert spec.max_concurrency_per_instance == 8 // 4  # genomics-cluster: 8 cores, 4 threads
    assert spec.instance_count == 3  # 5 members, 2 per node; the cluster has 4 nodes
    assert spec.timeout_s == 90 * 60
    assert spec.max_retries == 0  # Snakemake retries the group (its --retries), never the step
    assert len(spec.manifests()) == 5 and spec.folder.startswith(ROOT)
    (tmp_path / "code").mkdir()
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(spec.to_yaml("code")))
    job = load_job(path)  # as `az ml job create --file` reads it
    step = job.jobs["members"]
    assert job.type == "pipeline" and step.type == "parallel"
    assert job.settings.force_rerun is True  # Snakemake decides what runs, not node reuse
    assert step.mini_batch_size == 1 and step.resources.instance_count == 3
    assert step.retry_settings.timeout == 90 * 60 and step.retry_settings.max_retries == 0
    # every member runs to its end (the executor reads who failed from the rows)
    assert step.mini_batch_error_threshold == -1 and step.error_threshold == -1
    assert step.task.append_row_to == "${{outputs.results}}"


def test_the_most_user_tags_allowed_fit_every_job_type_and_one_more_is_refused():
    """The budget comes from the builders' own tags: a command job and a group's pipeline job
    with the most user tags the settings accept stay within Azure ML's 50; past it the group is
    refused with its name, before anything is submitted."""
    allowed = user_tags_allowed()
    run = dataclasses.replace(GROUPED, tags={f"k{i}": "v" for i in range(allowed)})
    group = build_pipeline_spec(run, group_facts(), "bwa_mem", members(2))
    assert len(group.tags) == TAGS_MAX
    assert len(build_spec(run, facts()).tags) == TAGS_MAX - (
        OWN_TAGS["group's pipeline job"] - OWN_TAGS["command job"]
    )
    one_more = dataclasses.replace(run, tags={**run.tags, "extra": "v"})
    with pytest.raises(ValueError, match=r"group_bwa_mem: 51 tags; Azure ML allows 50"):
        build_pipeline_spec(one_more, group_facts(), "bwa_mem", members(2))


def test_the_step_retries_only_where_snakemake_does_not():
    """An exported pipeline runs without Snakemake: there the step's retry_settings are the
    rules' retries, the one place left to retry, and a failed member fails the step."""
    group = members(2, retries=2)
    assert build_pipeline_spec(GROUPED, group_facts(), "g", group).max_retries == 0
    exported = build_pipeline_spec(GROUPED, group_facts(), "g", group, standalone=True)
    assert exported.max_retries == 2
    # and a member still failing fails it: later nodes must not run without its outputs
    assert exported.to_yaml("code")["jobs"]["members"]["mini_batch_error_threshold"] == 0


def test_member_without_runtime_gets_a_day_never_the_60_s_default():
    no_runtime = members(2, resources={"mem_mb": 6000})
    assert build_pipeline_spec(GROUPED, group_facts(), "g", no_runtime).timeout_s == 24 * 3600


def test_a_runtime_beyond_azures_range_gets_the_longest_timeout_azure_accepts():
    week = members(2, resources={"runtime": 7 * 24 * 60})
    spec = build_pipeline_spec(GROUPED, group_facts(), "g", week)
    assert spec.timeout_s == 259200  # retry_settings.timeout is in (0, 259200] on Azure ML
    assert spec.to_yaml("code")["jobs"]["members"]["retry_settings"]["timeout"] == 259200


def test_nodes_never_exceed_the_cluster_and_follow_instance_count():
    assert build_pipeline_spec(GROUPED, group_facts(), "g", members(40)).instance_count == 4
    pinned = group_facts(resources={"instance_count": 1})
    assert build_pipeline_spec(GROUPED, pinned, "g", members(40)).instance_count == 1


def test_member_ids_are_stable_and_a_retry_keeps_the_name_scheme():
    assert [m.id for m in members(3)] == [m.id for m in members(3)]
    second = build_pipeline_spec(GROUPED, group_facts(attempt=2), "g", members(1))
    assert second.name.endswith("-2") and second.display_name == "bwa_mem[1 job]"


def test_group_needs_azureml_storage_and_a_cluster():
    with pytest.raises(ValueError, match="azureml default storage"):
        build_pipeline_spec(RUN, group_facts(), "g", members(2))
    serverless = dataclasses.replace(SERVERLESS, group_root=ROOT)
    with pytest.raises(ValueError, match="not serverless"):
        build_pipeline_spec(serverless, group_facts(), "g", members(2))
