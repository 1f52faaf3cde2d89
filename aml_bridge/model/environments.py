"""Which Azure ML environment a job runs in, and how built environments are named and versioned.

Order: a rule's `aml_environment` resource (a registered environment such as azureml:bwa:5); its
`container:` image; its `conda:` file built on the base image; otherwise the default environment
setting or the base image. Every built environment carries what the remote Snakemake job needs
(python, snakemake, the storage plugin's packages) in its conda file: Azure ML runs an image-only
environment as it is, and most tool images have no Snakemake. Registered environments cannot be
inspected: they must contain Snakemake themselves (README). Azure ML builds the conda file into
the image with the image's own conda, so a `container:` image needs conda in it.
Built environments get a version derived from their content, so each is registered once and
reused by every job, run and machine that needs the same content.

Each built environment has a `-parallel` flavour (env-bwa-parallel) for parallel steps (the
executor's group steps, exported pipeline nodes, registered components): it adds the parallel
runtime's own packages, which Azure ML's docs require there and command jobs do not need.
A built conda file is read as conda match specs and PEP 508 requirements (conda_specs): the
bridge adds python and pip only when the rule's file has none, and a file that no solver can
build (two specs of one package that cannot both hold, a python Snakemake does not support) is
refused before anything is registered or submitted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib.metadata import metadata

import yaml

from aml_bridge.model.names import azure_name
from conda_specs import conda_problems, conda_specs, spec_meets

PYTHON = "python=3.11"
# What the parallel runtime itself imports (Azure ML docs, batch endpoints: "azureml-core and
# azureml-dataset-runtime[fuse] are required"; every parallel job of Azure/azureml-examples).
PARALLEL_RUNTIME = ("azureml-core>=1.60,<2", "azureml-dataset-runtime[fuse]>=1.60,<2")
PARALLEL_SUFFIX = "-parallel"


@dataclass(frozen=True)
class EnvironmentSpec:
    """Either a registered environment (`reference`) or one to build (name, version, image...)."""

    reference: str | None = None
    name: str | None = None
    version: str | None = None
    image: str | None = None
    conda: dict | None = None
    parallel: bool = False  # for a parallel step (carries PARALLEL_RUNTIME when built)

    @property
    def registered_id(self) -> str:
        """How a job refers to the environment once it is registered."""
        return self.reference or f"azureml:{self.name}:{self.version}"

    def inline(self) -> dict | str:
        """The YAML value for a self-contained job spec (Azure ML registers it by content)."""
        if self.reference:
            return self.reference
        value: dict = {"image": self.image}
        if self.conda is not None:
            value["conda_file"] = self.conda
        return value


def remote_requirements(snakemake_version: str, extra: list[str]) -> list[str]:
    """What `python -m snakemake` on the node needs beyond the rule's own tools.

    The azureml storage plugin itself comes as a job input (aml_bridge.model.plugin_bundle); these
    are the PyPI packages it imports (its snakemake-interface-* ones come with snakemake).
    """
    return [
        f"snakemake=={snakemake_version}",
        "azure-core",
        "azure-identity",
        "azure-storage-blob",
        *extra,
    ]


def with_remote_requirements(conda: dict, pip: list[str]) -> dict:
    """The conda environment plus python and pip (each only when the file has no spec of it)
    and the remote job's pip requirements."""
    deps = list(conda.get("dependencies") or [])
    present = conda_specs(conda)
    if "python" not in present:
        deps.append(PYTHON)
    if "pip" not in present:
        deps.append("pip")
    pip_entry = next((d for d in deps if isinstance(d, dict) and "pip" in d), None)
    if pip_entry is None:
        deps.append({"pip": list(pip)})
    else:
        deps[deps.index(pip_entry)] = {"pip": [*(pip_entry["pip"] or []), *pip]}
    return {**conda, "dependencies": deps}


@cache
def snakemake_python() -> tuple[str, str]:
    """(version, Requires-Python) of the Snakemake running here, the one remote jobs install."""
    meta = metadata("snakemake")
    return meta["Version"], meta["Requires-Python"] or ""


def build_problems(conda: dict, label: str) -> list[str]:
    """Why no solver can build a conda file the bridge made (conda_specs.conda_problems), or a
    python pin the remote Snakemake does not support."""
    version, supported = snakemake_python()
    pins = conda_specs(conda).get("python", [])
    outside = [p for p in pins if supported and not spec_meets(p, supported)]
    return conda_problems(conda, label) + [
        f"{label}: {p!r} allows no python snakemake {version} supports "
        f"(Requires-Python {supported})"
        for p in outside
    ]


def _buildable(conda: dict, label: str) -> dict:
    problems = build_problems(conda, label)
    if problems:
        raise ValueError("; ".join(problems))
    return conda


def parse_conda_file(text: str, path: str) -> dict:
    """A conda environment file as a dict; a clear error naming the file otherwise."""
    try:
        conda = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"conda file {path} is not valid YAML: {e}") from e
    if not isinstance(conda, dict) or not isinstance(conda.get("dependencies"), list):
        raise ValueError(f"conda file {path} has no `dependencies` list")
    return conda


def content_version(image: str, conda: dict | None) -> str:
    canonical = json.dumps({"image": image, "conda": conda}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def environment_name(stem: str) -> str:
    """A valid environment name, as the seed workspace named them (workflow/envs/bwa.yaml → env-bwa;
    no dots: workflow/envs/samtools-1.20.yaml → env-samtools-1-20). `aml-genomics setup` registers
    the same names and versions, so jobs use what setup registered."""
    return azure_name(f"env-{stem}", "env")


def built(stem: str, image: str, conda: dict | None, parallel: bool = False) -> EnvironmentSpec:
    """parallel: the `-parallel` flavour (its conda file already carries PARALLEL_RUNTIME)."""
    return EnvironmentSpec(
        name=environment_name(stem + (PARALLEL_SUFFIX if parallel else "")),
        version=content_version(image, conda),
        image=image,
        conda=conda,
        parallel=parallel,
    )


def choose_environment(
    *,
    aml_environment: str | None,
    container_image: str | None,
    conda_file: tuple[str, str] | None,
    default_environment: str | None,
    base_image: str,
    pip: list[str],
    parallel: bool = False,
) -> EnvironmentSpec:
    """The job's environment by the order in the module docstring; ValueError when a built one
    cannot be built (build_problems).

    conda_file is (path, text). pip: the remote job's requirements (see remote_requirements).
    parallel: for a parallel step, which needs the parallel runtime's packages too. A
    registered environment cannot be inspected: it must hold them itself (README).
    """
    if parallel:
        pip = [*pip, *PARALLEL_RUNTIME]
    if aml_environment:
        ref = (
            aml_environment
            if aml_environment.startswith("azureml:")
            else f"azureml:{aml_environment}"
        )
        return EnvironmentSpec(reference=ref, parallel=parallel)
    if container_image:
        image = container_image.removeprefix("docker://")
        label = f"environment on image {image} (pip: --aml-remote-pip)"
        conda = _buildable(with_remote_requirements({"dependencies": []}, pip), label)
        return built(image.rsplit("/", 1)[-1].split(":")[0], image, conda, parallel)
    if conda_file:
        path, text = conda_file
        conda = with_remote_requirements(parse_conda_file(text, path), pip)
        stem = path.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")
        return built(stem, base_image, _buildable(conda, f"conda file {path}"), parallel)
    if default_environment:
        return EnvironmentSpec(reference=default_environment, parallel=parallel)
    label = "runtime environment (pip: --aml-remote-pip)"
    conda = _buildable(with_remote_requirements({"dependencies": []}, pip), label)
    return built("runtime", base_image, conda, parallel)
