"""A job sent again under a new name (moved off preemption, retried after a quota refusal)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aml_bridge.model.specs.command import CommandJobSpec
from aml_bridge.model.specs.pipeline import PipelineJobSpec

Spec = CommandJobSpec | PipelineJobSpec


def renamed(spec: Spec, name: str, **changes: Any) -> Spec:
    """The same job under `name` (and `changes`); a group's step gets a folder of its own, so
    that its members' manifests and results never mix with the earlier job's."""
    if isinstance(spec, PipelineJobSpec):
        root = spec.folder.rstrip("/").rsplit("/", 1)[0]
        changes = {"folder": f"{root}/{name}/", **changes}
    return replace(spec, name=name, **changes)
