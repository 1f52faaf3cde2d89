"""Translation of Snakemake job facts into Azure ML command job specs (pure functions)."""

import io

import pytest
import yaml
from azure.ai.ml import load_job

from aml_bridge.environments import remote_requirements
from aml_bridge.instance_types import parse_instance_table
from aml_bridge.translate import JobFacts, RunContext, build_spec, run_tag_key

CONDA = "channels: [conda-forge, bioconda]\ndependencies:\n  - bwa =0.7.17\n  - samtools =1.17\n"
RUN = RunContext(
    run_id="r1a2b3c4",
    experiment="main",
    compute="genomics-cluster",
    base_image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
    pip=remote_requirements("9.27.1", ["aml-genomics"]),
    instance_table=parse_instance_table(["F4:4:8192", "E8:8:65536", "F2:2:4096"]),
    tags={"project": "genomics"},
    env_vars={"TZ": "UTC"},
)


def facts(**change) -> JobFacts:
    base = dict(
        rule="bwa_mem",
        wildcards={"sample": "A", "unit": "1"},
        attempt=1,
        threads=4,
        resources={"mem_mb": 6000, "runtime": 90},
        outputs=("results/mapped/A-1.bam",),
        command="python -m snakemake --target-jobs 'bwa_mem:sample=A,unit=1' --mode remote",
        conda_file=("envs/bwa.yaml", CONDA),
    )
    return JobFacts(**{**base, **change})


def loaded(spec_yaml: dict):
    """Through azure-ai-ml's own loader, as `az ml job create --file` would."""
    return load_job(io.StringIO(yaml.safe_dump(spec_yaml)))._to_job()


def test_command_job_fields():
    spec = build_spec(RUN, facts())
    job = loaded(spec.to_yaml())
    assert job.display_name == "bwa_mem[sample=A,unit=1]"
    assert job.experiment_name == "main" and job.compute == "genomics-cluster"
    assert job.command == facts().command
    assert job.tags["snakemake_rule"] == "bwa_mem" and job.tags["project"] == "genomics"
    assert job.tags["snakemake_wildcards"] == "sample=A,unit=1"
    assert job.tags["snakemake_attempt"] == "1" and job.tags["snakemake_run_id"] == "r1a2b3c4"
    assert run_tag_key("r1a2b3c4") in job.tags
    assert job.resources.instance_type == "F4"  # smallest with 4 cores and 6000 MB
    assert job.limits.timeout == 90 * 60
    assert job.environment_variables == {"TZ": "UTC"}


def test_name_is_deterministic_and_new_per_attempt():
    first = build_spec(RUN, facts()).name
    assert first == build_spec(RUN, facts()).name
    assert first != build_spec(RUN, facts(attempt=2)).name
    assert first != build_spec(RUN, facts(outputs=("results/mapped/B-1.bam",))).name
    other_run = RunContext(**{**RUN.__dict__, "run_id": "other"})
    assert first != build_spec(other_run, facts()).name
    assert first.startswith("bwa_mem-r1a2b3c4-") and first.endswith("-1")


def test_resources_override_compute_and_instance_type():
    spec = build_spec(
        RUN, facts(resources={"aml_compute": "highmem", "aml_instance_type": "M64", "mem_mb": 1})
    )
    job = loaded(spec.to_yaml())
    assert job.compute == "highmem" and job.resources.instance_type == "M64"


def test_instance_type_from_table_by_threads_and_memory():
    assert build_spec(RUN, facts(threads=1, resources={"mem_mb": 1000})).instance_type == "F2"
    assert build_spec(RUN, facts(threads=2, resources={"mem_mb": 9000})).instance_type == "E8"


def test_job_too_big_for_every_instance_type_is_named():
    with pytest.raises(ValueError, match=r"bwa_mem\[sample=A,unit=1\] needs 32 threads"):
        build_spec(RUN, facts(threads=32))


def test_without_table_or_setting_no_instance_type():
    run = RunContext(**{**RUN.__dict__, "instance_table": []})
    assert "resources" not in build_spec(run, facts()).to_yaml()


def test_bad_runtime_names_the_job():
    with pytest.raises(ValueError, match=r"bwa_mem\[sample=A,unit=1\].*runtime"):
        build_spec(RUN, facts(resources={"runtime": "1h"}))


def test_registered_environment_resource_wins():
    spec = build_spec(
        RUN, facts(resources={"aml_environment": "azureml:bwa:5"}, container_image="x")
    )
    assert spec.to_yaml()["environment"] == "azureml:bwa:5"
    assert loaded(spec.to_yaml()).environment == "bwa:5"  # the SDK drops the prefix


def test_container_image_next():
    spec = build_spec(RUN, facts(container_image="docker://biocontainers/bwa:0.7.17"))
    assert spec.to_yaml()["environment"] == {"image": "biocontainers/bwa:0.7.17"}
    assert spec.environment.name == "snakemake-bwa"


def test_conda_file_built_on_base_image_with_what_the_remote_job_needs():
    spec = build_spec(RUN, facts())
    env = loaded(spec.to_yaml()).environment
    assert env.image == RUN.base_image
    deps = env.conda_file["dependencies"]
    assert "bwa =0.7.17" in deps and "python=3.11" in deps and "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "snakemake==9.27.1" in pip and "aml-genomics" in pip
    assert spec.environment.name == "snakemake-bwa"
    registered = spec.to_yaml(inline_environment=False)["environment"]
    assert registered == f"azureml:snakemake-bwa:{spec.environment.version}"


def test_environment_version_follows_content_only():
    one = build_spec(RUN, facts()).environment.version
    assert one == build_spec(RUN, facts(rule="other", wildcards={})).environment.version
    changed = facts(conda_file=("envs/bwa.yaml", CONDA.replace("1.17", "1.18")))
    assert one != build_spec(RUN, changed).environment.version


def test_without_any_environment_the_default_then_the_runtime_image():
    plain = facts(conda_file=None)
    run = RunContext(**{**RUN.__dict__, "default_environment": "azureml:snakemake:3"})
    assert build_spec(run, plain).to_yaml()["environment"] == "azureml:snakemake:3"
    runtime = build_spec(RUN, plain).environment
    assert runtime.name == "snakemake-runtime" and runtime.image == RUN.base_image


def test_broken_conda_file_is_named():
    with pytest.raises(ValueError, match="envs/bwa.yaml"):
        build_spec(RUN, facts(conda_file=("envs/bwa.yaml", "just a string")))


def test_low_priority_and_group_jobs_load():
    run = RunContext(**{**RUN.__dict__, "low_priority": True})
    group = facts(rule="group_mapping", wildcards={}, attempt=3)
    job = loaded(build_spec(run, group).to_yaml())
    assert job.queue_settings.job_tier == "spot"
    assert job.display_name == "group_mapping" and job.name.endswith("-3")


@pytest.mark.parametrize("inline", [True, False])
def test_every_variant_loads_with_load_job(inline):
    variants = [
        facts(),
        facts(conda_file=None),
        facts(container_image="docker://quay.io/biocontainers/fastqc:0.12.1--hdfd78af_0"),
        facts(resources={"aml_environment": "bwa:5"}),
        facts(wildcards={}, resources={}),
    ]
    for variant in variants:
        spec = build_spec(RUN, variant)
        assert loaded(spec.to_yaml(inline_environment=inline)).name == spec.name


BUNDLE = "azureml://datastores/workspaceblobstore/paths/out/.snakemake/aml/plugins/0123abcd/"


def test_plugin_bundle_is_a_read_only_input_first_on_pythonpath():
    run = RunContext(**{**RUN.__dict__, "plugin_bundle": BUNDLE})
    spec = build_spec(run, facts()).to_yaml()
    assert spec["inputs"] == {
        "snakemake_plugins": {"type": "uri_folder", "path": BUNDLE, "mode": "ro_mount"}
    }
    assert spec["command"] == (
        'export PYTHONPATH="${{inputs.snakemake_plugins}}${PYTHONPATH:+:$PYTHONPATH}" && '
        + facts().command
    )
    job = loaded(spec)
    assert job.inputs["snakemake_plugins"].path == BUNDLE
    assert job.inputs["snakemake_plugins"].mode == "ro_mount"
    assert job.command == spec["command"]


def test_without_plugin_bundle_no_input_and_the_command_as_is():
    spec = build_spec(RUN, facts()).to_yaml()
    assert "inputs" not in spec and spec["command"] == facts().command
