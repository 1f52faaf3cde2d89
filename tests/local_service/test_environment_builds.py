"""Environment builds through the real SDK: the pip section is really installed, so a package
that cannot be installed fails the build, a module it lacks fails the job, and jobs run with the
image's Python and tools, not the service's; a parallel step needs the runtime's packages."""

from __future__ import annotations

import shutil
import sys
import uuid
from pathlib import Path

from tests.local_service.helpers import (
    IMAGE,
    JOB_PIP,
    PYTHON,
    conda_file,
    ensure_environment,
    run_error,
    shell_job,
    wait_for,
)
from tests.local_service.test_pipelines import items_folder, pipeline_job

NOT_ON_ANY_INDEX = "aml-local-no-such-package-7f3c"


def _environment(ml, conda: dict) -> str:
    """A new environment version (builds are per version; the image is cached by content)."""
    from azure.ai.ml.entities import Environment

    name, version = "build-check", uuid.uuid4().hex[:8]
    ml.environments.create_or_update(
        Environment(name=name, version=version, image=IMAGE, conda_file=conda)
    )
    return f"azureml:{name}:{version}"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _log(ml, name: str, tmp_path: Path) -> str:
    dest = tmp_path / f"dl-{name}"
    ml.jobs.download(name, download_path=dest)
    return (dest / "artifacts" / "user_logs" / "std_log.txt").read_text()


def test_a_pip_section_that_cannot_be_installed_fails_the_build_naming_the_package(aml_service):
    ml = aml_service.ml_client()
    env = _environment(ml, conda_file(["azure-identity", f"{NOT_ON_ANY_INDEX}==1.0"]))
    name = _name("unbuildable")
    ml.jobs.create_or_update(shell_job(name, "true", env))
    assert wait_for(ml, name, timeout_s=180).status == "Failed"
    error = run_error(ml, name)["error"]
    assert error["code"] == "UserError"
    assert f"Image build failed for environment {env.removeprefix('azureml:')}" in error["message"]
    assert NOT_ON_ANY_INDEX in error["message"]


def test_conflicting_conda_specs_fail_the_build_naming_both(aml_service):
    ml = aml_service.ml_client()
    env = _environment(ml, conda_file(JOB_PIP, "conda-forge::python=3.12"))
    name = _name("conflict")
    ml.jobs.create_or_update(shell_job(name, "true", env))
    assert wait_for(ml, name).status == "Failed"
    message = run_error(ml, name)["error"]["message"]
    assert f"Image build failed for environment {env.removeprefix('azureml:')}" in message
    assert f"'{PYTHON}'" in message and "'conda-forge::python=3.12'" in message


def test_a_pip_section_is_resolved_for_the_python_the_conda_file_pins(aml_service):
    """numpy 2.3 needs Python >= 3.11: with python=3.10 pinned the build fails, as conda's
    would on Azure, although this machine's Python could install it."""
    ml = aml_service.ml_client()
    env = _environment(ml, {"dependencies": ["python=3.10", "pip", {"pip": ["numpy==2.3.0"]}]})
    name = _name("pinned")
    ml.jobs.create_or_update(shell_job(name, "true", env))
    assert wait_for(ml, name, timeout_s=180).status == "Failed"
    message = run_error(ml, name)["error"]["message"]
    assert "for python 3.10" in message and "numpy" in message


def test_a_module_the_pip_section_lacks_fails_the_job(aml_service, tmp_path):
    """This machine has Snakemake; an environment without it in its pip section does not."""
    ml = aml_service.ml_client()
    env = _environment(ml, {"dependencies": [PYTHON, "pip"]})
    name = _name("lacking")
    ml.jobs.create_or_update(shell_job(name, "python -c 'import snakemake'", env))
    assert wait_for(ml, name, timeout_s=180).status == "Failed"
    assert "ModuleNotFoundError: No module named 'snakemake'" in _log(ml, name, tmp_path)


def test_jobs_run_with_the_images_python_and_its_conda_tools(aml_service, tmp_path):
    """sys.prefix is the image's (under the image cache), not the service's; the conda file's
    bwa is this machine's, linked into the image; bcftools, named but not on this machine, is
    'command not found' (exit 127)."""
    ml = aml_service.ml_client()
    name = _name("prefix")
    command = "python -c 'import sys, snakemake; print(\"prefix=\" + sys.prefix)'"
    ml.jobs.create_or_update(shell_job(name, command, ensure_environment(ml)))
    assert wait_for(ml, name, timeout_s=300).status == "Completed", run_error(ml, name)
    log = _log(ml, name, tmp_path)
    (prefix,) = [line.removeprefix("prefix=") for line in log.splitlines() if "prefix=" in line]
    assert Path(prefix).resolve().is_relative_to(aml_service.image_cache.resolve())
    assert Path(prefix).resolve() != Path(sys.prefix).resolve()

    absent = "bioconda::bcftools=1.20"  # setup installs no bcftools on this machine
    env = _environment(ml, conda_file([], "bioconda::bwa=0.7.18", absent))
    name = _name("tools")
    command = 'command -v bwa; readlink -f "$(command -v bwa)"; bcftools --version'
    ml.jobs.create_or_update(shell_job(name, command, env))
    assert wait_for(ml, name, timeout_s=180).status == "Failed"
    lines = _log(ml, name, tmp_path).splitlines()
    assert Path(lines[0]).is_relative_to(aml_service.image_cache)  # the image's link
    assert lines[1] == str(Path(shutil.which("bwa")).resolve())
    assert "bcftools: command not found" in lines
    assert "exited with code 127" in run_error(ml, name)["error"]["message"]


def test_a_parallel_step_without_the_runtime_packages_fails_before_any_mini_batch(
    aml_service, tmp_path
):
    ml = aml_service.ml_client()
    env = ensure_environment(ml)  # what the jobs need, not what the parallel runtime needs
    name, job = pipeline_job(tmp_path, env, items_folder(aml_service, ["a.txt"]))
    ml.jobs.create_or_update(job)
    assert wait_for(ml, name, timeout_s=300).status == "Failed"
    (step,) = list(ml.jobs.list(parent_job_name=name))
    message = run_error(ml, step.name)["error"]["message"]
    assert "azureml-core" in message and "azureml-dataset-runtime" in message
    assert not list((tmp_path / "marks").iterdir())  # no init(), no run()
