"""Environment image builds: once per environment version, while its first job is Preparing.

Azure ML builds an environment that has a conda file into an image the first time a job uses
that version (minutes; the job shows Preparing) and reuses the image afterwards. A conda file
that does not parse, lists no dependencies, has specs no solver can satisfy together
(`conda_specs.conda_problems`), or whose pip section cannot be installed (`images.ImageCache`)
fails the build, and every job of that version fails with a UserError "Image build
failed". Image-only environments are used as they are (this machine stands for the image).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import yaml

from conda_specs import conda_problems

from .images import Image, ImageBuildError, ImageCache
from .store import Store

_ENVIRONMENT = re.compile(r"/environments/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$")


@dataclass
class Build:
    """A build's outcome: the image (None for an image-only environment) or the error."""

    done: threading.Event = field(default_factory=threading.Event)
    image: Image | None = None
    error: str | None = None
    label: str = ""  # NAME:VERSION


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


_PREBUILT = Build()
_PREBUILT.done.set()


class EnvironmentBuilds:
    """Which environment versions are built; build_s: how long a build takes at least;
    images: where the built images are cached (shared by services and runs)."""

    def __init__(self, store: Store, images: ImageCache, build_s: float = 0.0) -> None:
        self.store, self.images, self.build_s = store, images, build_s
        self._builds: dict[str, Build] = {}
        self._lock = threading.Lock()

    def ensure(self, environment_id: str, stop: threading.Event) -> Build:
        """Build the job's environment if no job did yet (waiting for a build under way). The
        build (not done when the job was stopped meanwhile); no image: an image-only one."""
        m = _ENVIRONMENT.search(environment_id)
        if not m or environment_id.startswith("azureml://registries/"):
            return _PREBUILT  # registry environments are built by their publisher
        key = f"{m.group('name')}/{m.group('version')}"
        doc = self.store.get("environments", key) or {"properties": {}}
        conda = doc["properties"].get("condaFile")
        if conda is None:
            return _PREBUILT
        with self._lock:
            build = self._builds.get(key)
            first = build is None
            if first:
                label = f"{m.group('name')}:{m.group('version')}"
                build = self._builds[key] = Build(label=label)
        if first:  # on its own thread: a job canceled meanwhile need not wait for it
            threading.Thread(target=self._build, args=(build, conda), daemon=True).start()
        while not build.done.wait(0.1):
            if stop.is_set():
                break
        return build

    def _build(self, build: Build, text: str) -> None:
        try:
            self._try_build(build, text)
        except Exception as exc:  # a fault here must fail the build, not skip it
            build.error = f"Image build failed for environment {build.label}: {exc}."
        finally:
            build.done.set()

    def _try_build(self, build: Build, text: str) -> None:
        started = time.monotonic()
        problem = conda_problem(text)
        if not problem:  # specs no solver can satisfy fail as conda's solver fails on Azure
            problem = "; ".join(conda_problems(yaml.safe_load(text), "its conda file"))
        if not problem:
            try:
                build.image = self.images.image(yaml.safe_load(text))
            except ImageBuildError as exc:
                problem = f"its conda file could not be built: {exc}"
        if problem:
            problem = problem.rstrip(".")
            build.error = f"Image build failed for environment {build.label}: {problem}."
        time.sleep(max(0.0, self.build_s - (time.monotonic() - started)))
