"""Settings of the `aml` executor: `--aml-*` flags, `SNAKEMAKE_AML_*` variables, profile keys.

Snakemake builds the flags from the dataclass fields; `validate` checks them all at once, before
any job is submitted, so a typo costs seconds instead of a queue of failed cloud jobs.

Fields use typing.Optional (not `X | None`) and no postponed annotations: Snakemake turns
the field types into argparse types and only understands Optional.
"""

# ruff: noqa: UP045

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.settings import CommonSettings, ExecutorSettingsBase

from aml_bridge.model.clusters import SERVERLESS, parse_instance_table
from aml_bridge.model.names import TAG_KEY_MAX, TAG_VALUE_MAX, TAGS_MAX
from aml_bridge.model.prices import load_prices
from aml_bridge.model.specs.tags import OWN_TAGS, user_tags_allowed
from snakemake_storage_plugin_azureml.run_storage import use_executor_workspace

DEFAULT_BASE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"

# Cloud shape: jobs run elsewhere, share no file system, get the sources through the default
# storage, and receive environment variables through the job spec (never on the command line).
# The storage plugin ships inside this project (not on PyPI), so each job gets it as an input
# folder on PYTHONPATH (aml_bridge.model.plugin_bundle) rather than pip-installing it by name.
common_settings = CommonSettings(
    non_local_exec=True,
    implies_no_shared_fs=True,
    job_deploy_sources=True,
    pass_default_storage_provider_args=True,
    pass_default_resources_args=True,
    pass_envvar_declarations_to_cmd=False,
    auto_deploy_default_storage_provider=False,
    init_seconds_before_status_checks=0,
    pass_group_args=True,
)


# Lists: argparse collects the words (type str), Snakemake keeps them as a list.
LIST = {"nargs": "+", "parse_func": list, "unparse_func": list}


def _opt(help: str, env_var: bool = True, **extra) -> dict:
    return {"help": help, "env_var": env_var, "required": False, **extra}


@dataclass
class ExecutorSettings(ExecutorSettingsBase):
    subscription: Optional[str] = field(
        default=None, metadata=_opt("Azure subscription id of the Azure ML workspace.")
    )
    resource_group: Optional[str] = field(
        default=None, metadata=_opt("Resource group of the Azure ML workspace.")
    )
    workspace: Optional[str] = field(default=None, metadata=_opt("Azure ML workspace name."))
    compute: Optional[str] = field(
        default=None,
        metadata=_opt(
            "`serverless` to run jobs on serverless compute (sized by --aml-instance-types; "
            "wins over --aml-clusters), or the one cluster for every job (same as "
            "--aml-clusters NAME)."
        ),
    )
    clusters: Optional[list[str]] = field(
        default=None,
        metadata=_opt(
            "AmlCompute clusters the jobs may run on (default: genomics-cluster). Each job goes "
            "to the smallest whose VM size fits its threads and mem_mb; a rule's `aml_compute` "
            "resource pins one of them. Sizes are read from the workspace at start.",
            **LIST,
        ),
    )
    experiment: Optional[str] = field(
        default=None,
        metadata=_opt("Experiment the jobs are grouped under (default: the workflow's folder)."),
    )
    datastore: str = field(
        default="workspaceblobstore",
        metadata=_opt("Workspace datastore holding the workflow's data and sources."),
    )
    environment: Optional[str] = field(
        default=None,
        metadata=_opt(
            "Registered environment (e.g. azureml:snakemake:3) for rules without an "
            "`aml_environment` resource, container or conda file; it must contain python and "
            "snakemake. Default: one built from the base image with what the remote Snakemake "
            "job needs."
        ),
    )
    base_image: str = field(
        default=DEFAULT_BASE_IMAGE,
        metadata=_opt("Docker image on which environments are built from rules' conda files."),
    )
    remote_pip: Optional[list[str]] = field(
        default=None,
        metadata=_opt(
            "Extra pip requirements added to environments built from conda files (the "
            "azureml storage plugin needs none: each job gets it as an input folder).",
            **LIST,
        ),
    )
    instance_type: Optional[str] = field(
        default=None,
        metadata=_opt(
            "Serverless only: instance type for every job (a rule's `aml_instance_type` overrides)."
        ),
    )
    instance_types: Optional[list[str]] = field(
        default=None,
        metadata=_opt(
            "Serverless only: table NAME:CORES:MEM_MB of instance types; each job gets the "
            "smallest one that fits its threads and mem_mb (used when no instance type is set).",
            **LIST,
        ),
    )
    low_priority: bool = field(
        default=False,
        metadata=_opt(
            "Serverless only: run jobs on spot capacity (Azure ML restarts a preempted job). On a "
            "cluster, priority is the cluster's tier."
        ),
    )
    tags: Optional[list[str]] = field(
        default=None, metadata=_opt("Extra KEY=VALUE tags on every job.", **LIST)
    )
    share_prefix: bool = field(
        default=False,
        metadata=_opt(
            "Run even when the storage prefix holds another workflow folder's outputs (its "
            "<prefix>/.snakemake/aml/owner.json names that folder): they then stand in for "
            "this folder's. Without it such a run is refused before anything is uploaded."
        ),
    )
    max_preemptions: int = field(
        default=3,
        metadata=_opt(
            "A job (or group step) on a low-priority cluster that Azure ML restarts after more "
            "preemptions than this is canceled and sent to a dedicated cluster of the same VM "
            "size among --aml-clusters, if there is one (else Azure ML keeps restarting it)."
        ),
    )
    quota_wait: int = field(
        default=60,
        metadata=_opt(
            "Seconds before a job that Azure ML refused for vCPU quota "
            "(JobNodeCountExceedsCoreQuota) is sent again; the wait doubles up to 10 minutes, "
            "12 tries, so a quota raised meanwhile lets the run go on."
        ),
    )
    status_interval: int = field(
        default=15,
        metadata=_opt("Seconds between status rounds while jobs change; grows when idle."),
    )
    submit_concurrency: int = field(
        default=8, metadata=_opt("Jobs submitted in parallel (bounded thread pool).")
    )
    spec_dir: Optional[Path] = field(
        default=None,
        metadata=_opt(
            "Write each job's Azure ML YAML spec into this folder instead of submitting it "
            "(`az ml job create --file` accepts them: the local inputs and the storage plugin "
            "the jobs need are still uploaded to the default storage)."
        ),
    )
    export_jobs: Optional[Path] = field(
        default=None,
        metadata=_opt(
            "Record every job that needs to run in this JSON file instead of submitting it "
            "(its manifest, the sources and the storage plugin go to the default storage): "
            "what `aml-genomics export` runs Snakemake with, together with --immediate-submit "
            "and --notemp, to write the DAG as one Azure ML pipeline."
        ),
    )
    endpoint: Optional[str] = field(
        default=None,
        metadata=_opt(
            "HTTPS base URL of a non-Azure control plane (the project's local Azure ML service)."
        ),
    )
    run_id: Optional[str] = field(
        default=None,
        metadata=_opt(
            "Identifier of this run in job names and tags (default: random). Reuse it to let a "
            "restarted run adopt the jobs it left running."
        ),
    )

    prices: Optional[Path] = field(
        default=None,
        metadata=_opt(
            "TSV of VM list prices (vm_size, region, tier, usd_per_hour) on top of the shipped "
            "table, for the run trace's cost estimate (.snakemake/aml/trace/<run id>.tsv)."
        ),
    )
    refresh_prices: bool = field(
        default=False,
        metadata=_opt(
            "Read the clusters' VM prices from the public Azure Retail Prices API at start "
            "(no credentials) instead of the price tables."
        ),
    )

    def __post_init__(self) -> None:
        # Snakemake parses these before it creates any storage provider; the azureml storage
        # plugin, which cannot see them, must find datastores in this workspace (flags too).
        s = self
        use_executor_workspace(s.subscription, s.resource_group, s.workspace, s.endpoint)


CLUSTER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,31}$")
CLUSTER_RULE = "2-32 letters, digits or -, from a letter"
DEFAULT_CLUSTER = "genomics-cluster"


def cluster_names(settings: ExecutorSettings) -> list[str]:
    """The clusters a run may use; none on serverless compute."""
    if settings.compute == SERVERLESS:
        return []
    return settings.clusters or [settings.compute or DEFAULT_CLUSTER]


def default_compute(settings: ExecutorSettings) -> str:
    """`serverless` or the first cluster: where jobs go when the clusters' sizes are unknown."""
    names = cluster_names(settings)
    return names[0] if names else SERVERLESS


GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
NAME_RULES = {
    # field: (pattern, description) as Azure documents the names
    "resource_group": (r"^[\w\-.()]{1,90}$", "1-90 letters, digits, _ - . ( )"),
    "workspace": (r"^[A-Za-z0-9][\w-]{0,32}$", "1-33 letters, digits, _ or -, not from _ or -"),
    "experiment": (r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,255}$", "1-256 ASCII letters, digits, _ - ."),
    "datastore": (r"^[A-Za-z0-9_]{1,255}$", "letters, digits or _"),
    "run_id": (r"^[a-z0-9]{1,16}$", "1-16 lowercase letters or digits"),
}


def validate(settings: ExecutorSettings) -> None:
    """All problems with the settings, in one clear error, before anything is submitted."""
    errors = list(_problems(settings))
    if errors:
        raise WorkflowError("Invalid aml executor settings:\n  - " + "\n  - ".join(errors))


def _problems(s: ExecutorSettings):
    submitting = s.spec_dir is None
    for name in ("subscription", "resource_group", "workspace"):
        if submitting and not getattr(s, name):
            flag = name.replace("_", "-")
            yield (
                f"--aml-{flag} (or SNAKEMAKE_AML_{name.upper()}) is required to submit jobs "
                "(or set --aml-spec-dir to only write job specs)"
            )
    if s.subscription and not s.endpoint and not GUID.match(s.subscription):
        yield f"--aml-subscription {s.subscription!r} is not a subscription id (a GUID)"
    for name, (pattern, description) in NAME_RULES.items():
        value = getattr(s, name)
        if value and not re.match(pattern, value):
            yield f"--aml-{name.replace('_', '-')} {value!r} is not a valid name ({description})"
    yield from _compute_problems(s)
    if s.environment and not s.environment.startswith("azureml:"):
        yield f"--aml-environment {s.environment!r} must look like azureml:NAME:VERSION"
    yield from _tag_problems(s.tags or [])
    try:
        parse_instance_table(s.instance_types or [])
    except ValueError as e:
        yield f"--aml-instance-types: {e}"
    if s.max_preemptions < 0:
        yield f"--aml-max-preemptions must be 0 or more, not {s.max_preemptions}"
    if s.quota_wait < 1:
        yield f"--aml-quota-wait must be at least 1 second, not {s.quota_wait}"
    if s.status_interval < 1:
        yield f"--aml-status-interval must be at least 1 second, not {s.status_interval}"
    if not 1 <= s.submit_concurrency <= 64:
        yield f"--aml-submit-concurrency must be between 1 and 64, not {s.submit_concurrency}"
    if s.prices:
        try:
            load_prices(s.prices)
        except ValueError as e:
            yield f"--aml-prices: {e}"
    if s.endpoint and not re.match(r"^https://[^/\s]+", s.endpoint):
        yield (
            f"--aml-endpoint {s.endpoint!r} must be an https:// URL "
            "(azure-ai-ml sends tokens only over HTTPS)"
        )


def _compute_problems(s: ExecutorSettings):
    if s.compute and s.compute != SERVERLESS and s.clusters:
        yield (
            f"--aml-compute {s.compute} and --aml-clusters both name clusters: list them all "
            "in --aml-clusters"
        )
    names = cluster_names(s)
    for name in names:
        if not CLUSTER_NAME.match(name):
            yield f"cluster {name!r} is not a valid compute name ({CLUSTER_RULE})"
    if len(set(names)) != len(names):
        yield f"--aml-clusters names a cluster twice: {' '.join(names)}"
    if not names:
        return
    if s.low_priority:
        yield (
            "--aml-low-priority applies to serverless compute only: on a cluster, priority is "
            "the cluster's tier (dedicated or low priority), set when the cluster is created"
        )
    for flag, value in (("instance-type", s.instance_type), ("instance-types", s.instance_types)):
        if value:
            yield (
                f"--aml-{flag} applies to serverless compute only (--aml-compute serverless): "
                "a job on a cluster gets the cluster's VM size"
            )


def _tag_problems(tags: list[str]):
    if len(tags) > user_tags_allowed():
        own = ", ".join(f"a {kind} carries {n}" for kind, n in sorted(OWN_TAGS.items()))
        yield (
            f"--aml-tags has {len(tags)} tags; Azure ML allows {TAGS_MAX} on a job and the "
            f"bridge puts its own on each ({own}): at most {user_tags_allowed()} of yours"
        )
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            yield f"--aml-tags entry {tag!r} is not KEY=VALUE"
        elif len(key) > TAG_KEY_MAX or len(value) > TAG_VALUE_MAX:
            yield (
                f"--aml-tags entry {tag[:40]!r}...: keys may have at most {TAG_KEY_MAX} and values "
                f"{TAG_VALUE_MAX} characters"
            )


def datastore_warning(
    settings: ExecutorSettings, provider: str | None, prefix: str | None
) -> str | None:
    """A warning when the default storage is azureml but on another datastore than the setting
    says (usually a typo in one of the two)."""
    if provider != "azureml" or not prefix:
        return None
    expected = f"azureml://datastores/{settings.datastore}/"
    if not prefix.startswith(expected):
        return (
            f"--default-storage-prefix {prefix} is not on datastore {settings.datastore} "
            f"(--aml-datastore); jobs will read and write there all the same"
        )
    return None


def extra_tags(settings: ExecutorSettings) -> dict[str, str]:
    return dict(tag.split("=", 1) for tag in settings.tags or [])
