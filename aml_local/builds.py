"""Environment image builds: once per environment version, while its first job is Preparing.

Azure ML builds an environment that has a conda file into an image the first time a job uses
that version (minutes; the job shows Preparing) and reuses the image afterwards. A conda file
that does not parse, or lists no dependencies, fails the build, and every job of that version
fails with a UserError "Image build failed". Image-only environments are used as they are.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

import yaml

from .store import Store

_ENVIRONMENT = re.compile(r"/environments/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$")


@dataclass
class _Build:
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


def conda_problem(text: str) -> str | None:
    """Why a conda file cannot be built, or None."""
    try:
        conda = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return f"its conda file is not valid YAML ({str(exc).splitlines()[0]})"
    if not isinstance(conda, dict):
        return "its conda file is not a mapping with a `dependencies` list"
    deps = conda.get("dependencies")
    if not isinstance(deps, list) or not deps:
        return "its conda file lists no `dependencies`"
    return None


class EnvironmentBuilds:
    """Which environment versions are built; build_s: how long a build takes."""

    def __init__(self, store: Store, build_s: float = 0.0) -> None:
        self.store, self.build_s = store, build_s
        self._builds: dict[str, _Build] = {}
        self._lock = threading.Lock()

    def ensure(self, environment_id: str, stop: threading.Event) -> str | None:
        """Build the job's environment if no job did yet (waiting for a build under way);
        the build error, or None when the image is ready (or the job was stopped meanwhile)."""
        m = _ENVIRONMENT.search(environment_id)
        if not m or environment_id.startswith("azureml://registries/"):
            return None  # registry environments are built by their publisher
        key = f"{m.group('name')}/{m.group('version')}"
        doc = self.store.get("environments", key) or {"properties": {}}
        conda = doc["properties"].get("condaFile")
        if conda is None:
            return None
        with self._lock:
            build = self._builds.get(key)
            first = build is None
            if first:
                build = self._builds[key] = _Build()
        if first:
            stop.wait(self.build_s)
            problem = conda_problem(conda)
            if problem:
                build.error = (
                    f"Image build failed for environment {m.group('name')}:{m.group('version')}: "
                    f"{problem}."
                )
            build.done.set()
        while not build.done.wait(0.1):
            if stop.is_set():
                return None
        return build.error
