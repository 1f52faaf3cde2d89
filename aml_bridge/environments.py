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
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import yaml

from aml_bridge.names import azure_name

PYTHON = "python=3.11"


@dataclass(frozen=True)
class EnvironmentSpec:
    """Either a registered environment (`reference`) or one to build (name, version, image...)."""

    reference: str | None = None
    name: str | None = None
    version: str | None = None
    image: str | None = None
    conda: dict | None = None

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

    The azureml storage plugin itself comes as a job input (aml_bridge.plugin_bundle); these
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
    """The conda environment plus python, pip and the remote job's pip requirements."""
    deps = list(conda.get("dependencies") or [])
    names = {re.split(r"[=<>! ]", d, maxsplit=1)[0] for d in deps if isinstance(d, str)}
    if "python" not in names:
        deps.append(PYTHON)
    if "pip" not in names:
        deps.append("pip")
    pip_entry = next((d for d in deps if isinstance(d, dict) and "pip" in d), None)
    if pip_entry is None:
        deps.append({"pip": list(pip)})
    else:
        deps[deps.index(pip_entry)] = {"pip": [*pip_entry["pip"], *pip]}
    return {**conda, "dependencies": deps}


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
    """A valid environment name, as the seed workspace named them (envs/bwa.yaml → env-bwa;
    no dots: envs/samtools-1.20.yaml → env-samtools-1-20). `aml-genomics setup` registers the
    same names and versions, so jobs use what setup registered."""
    return azure_name(f"env-{stem}", "env")


def built(stem: str, image: str, conda: dict | None) -> EnvironmentSpec:
    return EnvironmentSpec(
        name=environment_name(stem),
        version=content_version(image, conda),
        image=image,
        conda=conda,
    )


def choose_environment(
    *,
    aml_environment: str | None,
    container_image: str | None,
    conda_file: tuple[str, str] | None,
    default_environment: str | None,
    base_image: str,
    pip: list[str],
) -> EnvironmentSpec:
    """The job's environment by the order in the module docstring.

    conda_file is (path, text). pip: the remote job's requirements (see remote_requirements).
    """
    if aml_environment:
        ref = (
            aml_environment
            if aml_environment.startswith("azureml:")
            else f"azureml:{aml_environment}"
        )
        return EnvironmentSpec(reference=ref)
    if container_image:
        image = container_image.removeprefix("docker://")
        conda = with_remote_requirements({"dependencies": []}, pip)
        return built(image.rsplit("/", 1)[-1].split(":")[0], image, conda)
    if conda_file:
        path, text = conda_file
        conda = with_remote_requirements(parse_conda_file(text, path), pip)
        stem = path.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")
        return built(stem, base_image, conda)
    if default_environment:
        return EnvironmentSpec(reference=default_environment)
    return built("runtime", base_image, with_remote_requirements({"dependencies": []}, pip))
