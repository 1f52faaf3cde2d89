"""The settings of `aml-genomics`, read as the executor reads them: `--aml-*` flags, else
`SNAKEMAKE_AML_*` variables, else the keys of the `aml` profile (its `config.yaml`)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from aml_bridge.model.folder_prefix import folder_prefix
from aml_bridge.model.settings import DEFAULT_BASE_IMAGE, ExecutorSettings

# The executor settings the CLI uses, by field name.
USED = (
    "subscription", "resource_group", "workspace", "endpoint", "compute", "clusters",
    "datastore", "base_image", "remote_pip",
)  # fmt: skip
LISTS = {"clusters", "remote_pip"}
DEFAULT_PREFIX = "azureml://datastores/workspaceblobstore/paths/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `--aml-*` flags (help from the executor's own settings) and `--profile`."""
    helps = {f.name: f.metadata.get("help", "") for f in fields(ExecutorSettings)}
    group = parser.add_argument_group("workspace (as for snakemake --executor aml)")
    for name in USED:
        flag = "--aml-" + name.replace("_", "-")
        extra: dict[str, Any] = {"nargs": "+"} if name in LISTS else {}
        group.add_argument(flag, dest=f"aml_{name}", help=helps[name], **extra)
    group.add_argument(
        "--profile", default="aml",
        help="Snakemake profile whose aml-* keys give defaults: a folder with config.yaml, or a "
        "name looked up in ~/.config/snakemake and workflow_profiles/ (default: aml).",
    )  # fmt: skip


def profile_file(name: str, workdir: Path) -> Path | None:
    candidates = [Path(name)]
    if "/" not in name:
        candidates.append(Path.home() / ".config/snakemake" / name)
        candidates.append(workdir / "workflow_profiles" / name)
    for folder in candidates:
        if (folder / "config.yaml").is_file():
            return folder / "config.yaml"
    return None


def _profile_value(profile: Mapping[str, Any], name: str) -> Any:
    value = profile.get("aml-" + name.replace("_", "-"))
    if name in LISTS and isinstance(value, str):
        return value.split()
    return value


def read(
    args: argparse.Namespace, environ: Mapping[str, str], workdir: Path
) -> tuple[ExecutorSettings, str, Path | None]:
    """(executor settings, default storage prefix, the profile file read or None)."""
    path = profile_file(args.profile, workdir)
    profile = (yaml.safe_load(path.read_text()) or {}) if path else {}
    values: dict[str, Any] = {}
    for name in USED:
        flag = getattr(args, f"aml_{name}", None)
        env = environ.get(f"SNAKEMAKE_AML_{name.upper()}")
        if env is not None and name in LISTS:
            env = env.split()
        value = flag if flag is not None else env if env else _profile_value(profile, name)
        if value is not None:
            values[name] = value
    values.setdefault("base_image", DEFAULT_BASE_IMAGE)
    settings = ExecutorSettings(**values)
    prefix = folder_prefix(profile.get("default-storage-prefix") or DEFAULT_PREFIX, workdir)
    return settings, prefix, path
