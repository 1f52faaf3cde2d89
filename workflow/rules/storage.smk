"""Azure ML plumbing of the workflow: which inputs are left to the default storage (the aml
profile) to check, whether a local path can live on the datastore, what remote jobs need from
this checkout (git-tracked sources), and, through the azureml storage plugin's public handle
(run_storage), staging of local inputs and data assets as inputs. Local runs never load the
Azure SDK.
"""

import os
import subprocess
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger


def use_folder_prefix():
    """A default storage prefix naming only a datastore (the aml profile's) becomes this
    folder's own (aml_bridge/model/folder_prefix.py), before any rule addresses a file under it.
    Remote jobs get the full prefix on their command line."""
    settings = workflow.storage_settings
    if not (settings.default_storage_provider and workflow.is_main_process):
        return
    from aml_bridge.model.folder_prefix import folder_prefix

    try:
        prefix = folder_prefix(settings.default_storage_prefix or "", Path.cwd())
    except (OSError, ValueError) as e:
        raise WorkflowError(f"Storage prefix of this folder: {e}") from None
    if prefix != settings.default_storage_prefix:
        settings.default_storage_prefix = prefix
        logger.info(f"Storage prefix of this folder: {prefix}")


def is_url(path):
    """A path with a scheme (an azureml URL, say): addressed in its storage as it is."""
    return "://" in path


def in_storage(path):
    """Whether a file is left to its storage to check: a path with a scheme (azureml://, ...),
    or, under a default storage provider (the aml profile, remote jobs), any file that is not
    here; Snakemake then reports it as a missing input if the storage lacks it too."""
    if is_url(path):
        return True
    default_storage = workflow.storage_settings.default_storage_provider
    return bool(default_storage) and not os.path.exists(path)


def storage_problem(path):
    """Why the default storage cannot hold local `path` at its address (<prefix>/<path>), in
    the storage plugin's own words; None without a default storage. Paths outside the working
    directory are left to the staging, which says so."""
    provider = workflow.storage_settings.default_storage_provider
    relative = os.path.normpath(path)
    if (
        not provider
        or is_url(path)
        or os.path.isabs(relative)
        or relative.split(os.sep)[0] == ".."
    ):
        return None
    prefix = workflow.storage_settings.default_storage_prefix.removesuffix("/")
    registry = workflow.storage_registry.default_storage_provider
    result = registry.is_valid_query(f"{prefix}/{relative}")
    return (
        None if result.valid else f"cannot be stored under {provider}: {result.reason}"
    )


def default_storage_main_process():
    """Whether this is the main process of a run whose data lives in a default storage (the
    aml profile). The executor is not known while the Snakefile is parsed; the default storage
    is, and it means that jobs run elsewhere and see only the storage and the shipped sources.
    """
    return bool(
        workflow.storage_settings.default_storage_provider and workflow.is_main_process
    )


def git_tracked(path):
    """Whether `path` is inside the working directory and tracked by git."""
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", path], capture_output=True
    )
    return tracked.returncode == 0 and os.path.relpath(path).split(os.sep)[0] != ".."


def check_shipped_to_remote_jobs(sheet):
    """Remote jobs (Azure ML) rebuild the DAG from the sources Snakemake ships them, which are
    the git-tracked files: fail here, not in every job, when the sheet or the scripts the
    rules run would be missing.
    """
    if not default_storage_main_process():
        return
    if config.get("reads_dir"):
        raise WorkflowError(
            "reads_dir works for local runs only: remote jobs cannot list a local folder. "
            "Write a sample sheet (samples=...) and track it with git."
        )
    if not git_tracked(sheet):
        raise WorkflowError(
            f"Sample sheet {sheet} must be inside the working directory and tracked by git "
            f"(git add {sheet}): remote jobs receive only git-tracked sources."
        )
    untracked = [
        os.path.relpath(script)
        for script in sorted(SCRIPTS.glob("*"))
        if script.suffix in (".sh", ".py") and not git_tracked(str(script))
    ]
    if untracked:
        raise WorkflowError(
            f"The workflow's scripts must be tracked by git (git add {' '.join(untracked)}): "
            "remote jobs receive only git-tracked sources."
        )


def stage_local_inputs(paths):
    """Under the azureml default storage, the main process stages the local inputs (the
    plugin's RunStorage.stage): uploaded before the first job, never in a dry run. Other
    storage plugins cannot do this; their inputs must be in the storage already.
    """
    from snakemake_storage_plugin_azureml.run_storage import RunStorage

    run = RunStorage.of(workflow)
    if run:
        run.stage(paths)


def data_asset_input(value):
    """`azureml:NAME:VERSION` or `azureml:NAME@latest`: a registered data asset, read from the
    datastore path it names (resolved once by the azureml storage plugin, version logged);
    a data asset that does not exist fails here, naming it. Anything else is a path (and
    costs no import of the storage plugin: this runs at every parse, in every remote job).
    """
    if not str(value).startswith("azureml:"):
        return value
    from snakemake_storage_plugin_azureml.run_storage import (
        is_data_asset,
        resolve_data_asset,
    )

    if not is_data_asset(value):
        return value
    try:
        asset = resolve_data_asset(value)
    except ValueError as e:
        raise WorkflowError(str(e)) from None
    if workflow.is_main_process:
        logger.info(f"{value}: data asset {asset.name}:{asset.version} at {asset.uri}")
    return storage(asset.uri)


use_folder_prefix()
