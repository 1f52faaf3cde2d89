"""Translation of Snakemake job facts into Azure ML command job specs (pure functions)."""

import dataclasses
import io

import pytest
import yaml
from azure.ai.ml import load_job

from aml_bridge.model.clusters import Cluster, by_size, parse_instance_table, without_identity
from aml_bridge.model.environments import remote_requirements
from aml_bridge.model.names import NAME, experiment_name
from aml_bridge.model.specs.command import build_spec
from aml_bridge.model.specs.common import JobFacts, RunContext, run_tag_key

CONDA = "channels: [conda-forge, bioconda]\ndependencies:\n  - bwa =0.7.17\n  - samtools =1.17\n"
# As the client reads them from the workspace: a large cluster listed first, a small one.
GENOMICS = Cluster("genomics-cluster", "STANDARD_E8S_V3", 8, 65536, 4, "low_priority")
QC = Cluster("qc-cluster", "STANDARD_D2S_V3", 2, 8192, 2, "dedicated")
RUN = RunContext(
    run_id="r1a2b3c4",
    experiment="main",
    compute="genomics-cluster",
    base_image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
    pip=remote_requirements("9.27.1", ["aml-genomics"]),
    clusters=by_size([GENOMICS, QC]),
    tags={"project": "genomics"},
    env_vars={"TZ": "UTC"},
)
SERVERLESS = RunContext(
    **{
        **RUN.__dict__,
        "compute": "serverless",
        "clusters": (),
        "instance_table": parse_instance_table(["F4:4:8192", "E8:8:65536", "F2:2:4096"]),
    }
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
    assert job.experiment_name == "main" and job.compute == "genomics-cluster"  # 4 threads
    assert job.command == facts().command
    assert job.tags["snakemake_rule"] == "bwa_mem" and job.tags["project"] == "genomics"
    assert job.tags["snakemake_wildcards"] == "sample=A,unit=1"
    assert job.tags["snakemake_attempt"] == "1" and job.tags["snakemake_run_id"] == "r1a2b3c4"
    assert run_tag_key("r1a2b3c4") in job.tags
    assert "resources" not in spec.to_yaml()  # the cluster's VM size is what the job gets
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


def workflow_job(rule: str, threads: int, mem_mb: int) -> JobFacts:
    return facts(rule=rule, wildcards={}, threads=threads, resources={"mem_mb": mem_mb})


def test_each_job_goes_to_the_smallest_cluster_that_fits_it():
    """The workflow's own declarations: bwa_mem 8 threads; bwa_index on a human-sized
    reference 6 MB per reference MB; FastQC 1 thread, 1 GB."""
    placed = {
        rule: build_spec(RUN, workflow_job(rule, threads, mem)).to_yaml()
        for rule, threads, mem in [
            ("bwa_mem", 8, 8000), ("bwa_index", 1, 18600), ("fastqc", 1, 1024),
        ]
    }  # fmt: skip
    assert {rule: spec["compute"] for rule, spec in placed.items()} == {
        "bwa_mem": "azureml:genomics-cluster",
        "bwa_index": "azureml:genomics-cluster",
        "fastqc": "azureml:qc-cluster",
    }
    assert not [spec for spec in placed.values() if "resources" in spec]


def test_aml_compute_pins_a_cluster_of_the_run():
    pinned = facts(threads=1, resources={"aml_compute": "genomics-cluster"})
    assert build_spec(RUN, pinned).compute == "genomics-cluster"
    with pytest.raises(ValueError, match=r"aml_compute='highmem' is not one of .*--aml-clusters"):
        build_spec(RUN, facts(resources={"aml_compute": "highmem"}))
    with pytest.raises(ValueError, match="more than a node of its pinned cluster: qc-cluster"):
        build_spec(RUN, facts(threads=4, resources={"aml_compute": "qc-cluster"}))


def test_job_too_big_for_every_cluster_names_job_needs_and_sizes():
    with pytest.raises(ValueError) as e:
        build_spec(RUN, facts(threads=32))
    assert str(e.value) == (
        "bwa_mem[sample=A,unit=1] needs 32 threads and 6000 MB, more than a node of any "
        "cluster: qc-cluster (STANDARD_D2S_V3: 2 cores, 8192 MB); "
        "genomics-cluster (STANDARD_E8S_V3: 8 cores, 65536 MB)"
    )


def test_a_cluster_without_identity_is_named_with_the_fix():
    bare = Cluster("bare-cluster", "STANDARD_D2S_V3", 2, 8192, 1, "dedicated", identity="none")
    user = Cluster("uami-cluster", "STANDARD_D2S_V3", 2, 8192, 1, "dedicated", "user_assigned")
    system = dataclasses.replace(QC, identity="system_assigned")
    (warning,) = without_identity((bare, user, system))
    assert "bare-cluster has no managed identity" in warning
    assert "Storage Blob Data Contributor" in warning


def test_instance_type_on_a_cluster_is_refused_naming_the_job():
    with pytest.raises(ValueError, match=r"bwa_mem\[sample=A,unit=1\]: .*only to serverless"):
        build_spec(RUN, facts(resources={"aml_instance_type": "M64"}))


def test_without_cluster_sizes_jobs_go_to_the_default_or_pinned_cluster():
    """Specs written without a workspace to read the clusters from."""
    run = RunContext(**{**RUN.__dict__, "clusters": ()})
    assert build_spec(run, facts(threads=64)).compute == "genomics-cluster"
    assert build_spec(run, facts(resources={"aml_compute": "other"})).compute == "other"


def test_serverless_has_no_compute_and_an_instance_type_from_the_table():
    spec = build_spec(SERVERLESS, facts()).to_yaml()
    assert "compute" not in spec and spec["resources"]["instance_type"] == "F4"
    assert loaded(spec).compute is None
    assert build_spec(SERVERLESS, facts(threads=1, resources={"mem_mb": 1000})).instance_type == (
        "F2"
    )
    assert build_spec(SERVERLESS, facts(threads=2, resources={"mem_mb": 9000})).instance_type == (
        "E8"
    )
    override = facts(resources={"aml_instance_type": "M64"})
    assert build_spec(SERVERLESS, override).instance_type == "M64"
    with pytest.raises(ValueError, match=r"bwa_mem\[sample=A,unit=1\] needs 32 threads"):
        build_spec(SERVERLESS, facts(threads=32))


def test_bad_runtime_names_the_job():
    with pytest.raises(ValueError, match=r"bwa_mem\[sample=A,unit=1\].*runtime"):
        build_spec(RUN, facts(resources={"runtime": "1h"}))


def test_registered_environment_resource_wins():
    spec = build_spec(
        RUN, facts(resources={"aml_environment": "azureml:bwa:5"}, container_image="x")
    )
    assert spec.to_yaml()["environment"] == "azureml:bwa:5"
    assert loaded(spec.to_yaml()).environment == "bwa:5"  # the SDK drops the prefix


def test_container_image_next_with_what_the_remote_job_needs_on_top():
    """An image-only environment runs as it is on Azure ML: a tool image has no Snakemake."""
    spec = build_spec(RUN, facts(container_image="docker://biocontainers/bwa:0.7.17"))
    env = loaded(spec.to_yaml()).environment
    assert env.image == "biocontainers/bwa:0.7.17"
    deps = env.conda_file["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "snakemake==9.27.1" in pip and "azure-storage-blob" in pip
    assert spec.environment.name == "env-bwa"


def test_conda_file_built_on_base_image_with_what_the_remote_job_needs():
    spec = build_spec(RUN, facts())
    env = loaded(spec.to_yaml()).environment
    assert env.image == RUN.base_image
    deps = env.conda_file["dependencies"]
    assert "bwa =0.7.17" in deps and "python=3.11" in deps and "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "snakemake==9.27.1" in pip and "aml-genomics" in pip
    assert spec.environment.name == "env-bwa"
    registered = spec.to_yaml(inline_environment=False)["environment"]
    assert registered == f"azureml:env-bwa:{spec.environment.version}"


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
    assert runtime.name == "env-runtime" and runtime.image == RUN.base_image


def test_broken_conda_file_is_named():
    with pytest.raises(ValueError, match="envs/bwa.yaml"):
        build_spec(RUN, facts(conda_file=("envs/bwa.yaml", "just a string")))


def test_low_priority_is_serverless_spot_and_group_jobs_load():
    run = RunContext(**{**SERVERLESS.__dict__, "low_priority": True})
    group = facts(rule="group_mapping", wildcards={}, attempt=3)
    job = loaded(build_spec(run, group).to_yaml())
    assert job.queue_settings.job_tier == "spot"
    assert job.display_name == "group_mapping" and job.name.endswith("-3")
    pinned = facts(resources={"aml_compute": "genomics-cluster"})
    assert "queue_settings" not in build_spec(run, pinned).to_yaml()  # the cluster's tier


@pytest.mark.parametrize("inline", [True, False])
def test_every_variant_loads_with_load_job(inline):
    variants = [
        facts(),
        facts(conda_file=None),
        facts(container_image="docker://quay.io/biocontainers/fastqc:0.12.1--hdfd78af_0"),
        facts(resources={"aml_environment": "bwa:5"}),
        facts(wildcards={}, resources={}),
    ]
    for run in (RUN, SERVERLESS):
        for variant in variants:
            spec = build_spec(run, variant)
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


# Names and limits Azure ML enforces (aml_bridge.model.names): one test per rule.


def test_job_name_is_valid_for_a_rule_starting_with_an_underscore():
    name = build_spec(RUN, facts(rule="_helper", wildcards={})).name
    assert NAME.match(name) and name.startswith("helper-r1a2b3c4-")
    assert name != build_spec(RUN, facts(rule="helper", wildcards={})).name


def test_environment_name_has_no_dots():
    spec = build_spec(RUN, facts(conda_file=("envs/samtools-1.20.yaml", CONDA)))
    assert spec.environment.name == "env-samtools-1-20"
    assert NAME.match(spec.environment.name)
    image = build_spec(RUN, facts(container_image="quay.io/biocontainers/samtools.x:1.20"))
    assert NAME.match(image.environment.name)


def long_wildcards(tail: str) -> JobFacts:
    return facts(wildcards={"sample": "S" * 1200 + tail, "unit": "1"})


def test_display_name_at_most_256_characters_readable_and_unique():
    one, two = (build_spec(RUN, long_wildcards(t)).display_name for t in "ab")
    assert len(one) <= 256 and one.startswith("bwa_mem[sample=SSS") and one != two


def test_tag_values_at_most_1000_characters_and_at_most_50_tags():
    one, two = (build_spec(RUN, long_wildcards(t)).tags for t in "ab")
    assert max(len(v) for v in one.values()) <= 1000
    assert one["snakemake_wildcards"] != two["snakemake_wildcards"]
    assert len(one) <= 50 and max(len(k) for k in one) <= 100


def test_experiment_name_is_ascii_and_at_most_256_characters():
    assert experiment_name("génome-analyse") == "g_nome-analyse"
    long = experiment_name("w" * 300)
    assert len(long) == 256 and long.isascii() and long != experiment_name("w" * 301)
