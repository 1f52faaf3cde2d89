"""Environment images on this machine: one virtual environment per conda-file content.

Azure ML builds a conda file into a Docker image with conda; jobs then run with that image's
Python. Here the conda file's `pip:` section is really installed (uv, from the package index)
into a fresh virtual environment of this machine's Python, so a package that cannot be installed
fails the build and a module the pip section lacks fails the job, as on Azure. Conda packages
cannot be fetched here (bioconda tools): each one the conda file names is linked from this
machine into the image's tools folder, or, when this machine lacks it, a stub that answers
"<tool>: command not found" (exit 127). A `python` pin of another minor version than this
machine's is honoured only in the resolution (`uv pip compile --python-version X.Y`).

Images are cached by content under the cache folder and built once across jobs, services and
processes (a file lock); a resolution failure is remembered for that content.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from rattler import MatchSpec

from conda_specs import conda_specs, pip_requirements, spec_meets

# The image's own PATH ends with the system folders; nothing of the service's PATH leaks in.
SYSTEM_PATH = ("/usr/local/bin", "/usr/bin", "/bin")
# What the service's environment must not hand to a job in an image (the image decides them).
SERVICE_PYTHON_ENV = re.compile(
    r"^(PATH|PYTHONPATH|PYTHONHOME|PYTHONUSERBASE|VIRTUAL_ENV.*|CONDA_.*|PYENV.*)$"
)
NOT_TOOLS = {"python", "pip"}
_COMPLETE = ".complete"
FORMAT = 1  # bump when the layout of an image changes


class ImageBuildError(RuntimeError):
    """Why an image could not be built (the text goes into the job's error); `unsatisfiable`:
    the same content would fail again (remembered), unlike e.g. an index out of reach."""

    def __init__(self, message: str, unsatisfiable: bool = False) -> None:
        super().__init__(message)
        self.unsatisfiable = unsatisfiable


@dataclass(frozen=True)
class Image:
    """A built environment: its Python, and the folders a job's PATH starts with."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "venv" / "bin" / "python"

    @property
    def tools(self) -> Path:
        return self.root / "tools"

    def job_environment(self, base: dict[str, str]) -> dict[str, str]:
        """`base` (the node's variables) with the image's PATH and virtual environment."""
        env = {k: v for k, v in base.items() if not SERVICE_PYTHON_ENV.match(k)}
        env["PATH"] = os.pathsep.join([str(self.python.parent), str(self.tools), *SYSTEM_PATH])
        env["VIRTUAL_ENV"] = str(self.root / "venv")
        return env

    def missing_modules(self, modules: list[str]) -> list[str]:
        """The modules of `modules` the image's Python cannot find (not imported)."""
        probe = (
            "import importlib.util, sys\n"
            "for m in sys.argv[1:]:\n"
            "    try:\n"
            "        found = importlib.util.find_spec(m) is not None\n"
            "    except ImportError:\n"
            "        found = False\n"
            "    if not found:\n"
            "        print(m)\n"
        )
        out = subprocess.run(
            [str(self.python), "-I", "-c", probe, *modules],
            capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        return out.stdout.split()


def python_pin(conda: dict) -> str | None:
    """The X.Y the conda file's python spec asks for when this machine's Python does not
    meet it (None when it does, or names no python)."""
    for entry in conda_specs(conda).get("python", []):
        if not spec_meets(entry, f"=={platform.python_version()}"):
            m = re.search(r"(\d+)\.(\d+)", MatchSpec(entry).version or "")
            if m:
                return f"{m.group(1)}.{m.group(2)}"
    return None


def content_key(conda: dict) -> str:
    canonical = json.dumps(
        {"conda": conda, "python": sys.executable, "version": list(sys.version_info[:3]),
         "format": FORMAT},
        sort_keys=True,
    )  # fmt: skip
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


class ImageCache:
    """Built images under `root`, one folder per conda-file content."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def image(self, conda: dict) -> Image:
        """The image of `conda`, built now unless built before; ImageBuildError otherwise."""
        self.root.mkdir(parents=True, exist_ok=True)
        key = content_key(conda)
        folder, failed = self.root / key, self.root / f"{key}.failed"
        with open(self.root / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build per content, also across processes
            if (folder / _COMPLETE).exists():
                return Image(folder)
            if failed.exists():
                raise ImageBuildError(failed.read_text())
            shutil.rmtree(folder, ignore_errors=True)  # a build interrupted before
            try:
                _build(folder, conda)
            except ImageBuildError as exc:
                shutil.rmtree(folder, ignore_errors=True)
                if exc.unsatisfiable:
                    failed.write_text(str(exc))
                raise
            (folder / _COMPLETE).touch()
            return Image(folder)


def _build(folder: Path, conda: dict) -> None:
    folder.mkdir(parents=True)
    (folder / "conda.json").write_text(json.dumps(conda, indent=1))  # what was built
    requirements = folder / "requirements.txt"
    pip = pip_requirements(conda)
    requirements.write_text("".join(f"{r}\n" for r in pip))
    venv = folder / "venv"
    _uv(["venv", "--quiet", "--python", sys.executable, str(venv)], "creating the environment")
    version = python_pin(conda)
    if version:
        _uv(
            ["pip", "compile", "--quiet", "--python-version", version, str(requirements),
             "--output-file", os.devnull],
            f"resolving its pip section for python {version}",
        )  # fmt: skip
    if pip:
        _uv(
            ["pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
             "-r", str(requirements)],
            "installing its pip section",
        )  # fmt: skip
    _link_tools(folder / "tools", conda)


def _link_tools(tools: Path, conda: dict) -> None:
    """The conda packages' commands from this machine; a stub for each one it lacks."""
    tools.mkdir()
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    for name in conda_specs(conda):
        if name in NOT_TOOLS or not re.fullmatch(r"[a-z0-9][a-z0-9._+-]*", name):
            continue  # conda package names are of this form (conda_problems checked them)
        found = shutil.which(name, path=search)
        if found:
            (tools / name).symlink_to(found)
        else:
            stub = tools / name
            stub.write_text(f'#!/bin/sh\necho "{name}: command not found" >&2\nexit 127\n')
            stub.chmod(0o755)


def _uv(args: list[str], doing: str) -> None:
    from uv import find_uv_bin

    env = {k: v for k, v in os.environ.items() if not SERVICE_PYTHON_ENV.match(k)}
    env["PATH"] = os.pathsep.join(SYSTEM_PATH)
    proc = subprocess.run(
        [find_uv_bin(), "--color", "never", *args], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        lines = [line.removeprefix("error: ") for line in lines if not line.startswith("Using")]
        message = f"{doing} failed: " + " ".join(lines[-12:])
        raise ImageBuildError(message, unsatisfiable="No solution found" in proc.stderr)
