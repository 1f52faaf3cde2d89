"""One command job on this machine: a fresh folder, inputs copied in, the command in its own
process group (so cancel ends the whole tree), outputs and the log uploaded afterwards."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from azure.core.exceptions import AzureError

from .bindings import DataRef, substitute
from .blobs import Datastores
from .traffic import Caller

LOG_NAME = "user_logs/std_log.txt"
KILL_GRACE_S = 3.0
LOG_UPLOAD_EVERY_S = 1.0


class BindingError(RuntimeError):
    """An input that could not be fetched; the message names it."""


@dataclass
class InputBinding:
    name: str
    kind: str  # uri_file, uri_folder or literal
    ref: DataRef | None = None
    value: str = ""


@dataclass
class OutputBinding:
    name: str
    kind: str  # uri_file or uri_folder
    ref: DataRef


@dataclass
class JobPlan:
    """Everything needed to run a job, resolved from its stored REST body when dispatched."""

    name: str
    command: str
    environment: dict[str, str]
    inputs: list[InputBinding]
    outputs: list[OutputBinding]
    code: tuple[str, str] | None = None  # (container, prefix) of the registered code
    timeout_s: float | None = None


@dataclass
class Stop:
    """Why a running job is being stopped from outside (cancel, preemption, shutdown)."""

    event: threading.Event = field(default_factory=threading.Event)
    reason: str = ""

    def request(self, reason: str) -> None:
        if not self.event.is_set():
            self.reason = reason
            self.event.set()


@dataclass
class Outcome:
    exit_code: int | None  # None: stopped from outside or timed out
    stopped: str = ""  # the Stop reason, or "timeout"


class JobRunner:
    def __init__(
        self, plan: JobPlan, workdir: Path, stores: Datastores, log_ref: DataRef, caller: Caller
    ) -> None:
        self.plan, self.workdir, self.stores, self.log_ref = plan, workdir, stores, log_ref
        self.caller = caller  # whose transfers these are, in the traffic counts
        self.log_path = workdir / LOG_NAME
        self._uploaded_size = -1
        self._synced: dict[Path, tuple[int, int]] = {}

    def prepare(self) -> dict[tuple[str, str], str]:
        """Make the fresh folder, copy inputs in read-only; the value of every placeholder."""
        self.prepare_log()
        if self.plan.code:
            container, prefix = self.plan.code
            self.stores.download(
                container, prefix, self.workdir / "wd", is_file=False, caller=self.caller
            )
            for p in (self.workdir / "wd").rglob("*"):
                p.chmod(p.stat().st_mode | 0o200)
        values: dict[tuple[str, str], str] = {}
        for binding in self.plan.inputs:
            if binding.kind == "literal":
                values[("inputs", binding.name)] = binding.value
                continue
            assert binding.ref is not None
            local = self.workdir / "inputs" / binding.name
            if binding.kind == "uri_file":
                local = local / Path(binding.ref.path).name
            try:
                self.stores.download(
                    self.stores.container_of(binding.ref.datastore),
                    binding.ref.path,
                    local,
                    is_file=binding.kind == "uri_file",
                    caller=self.caller,
                )
            except AzureError as exc:
                first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise BindingError(
                    f"input '{binding.name}' ({binding.ref.uri()}) could not be read: {first_line}"
                ) from exc
            values[("inputs", binding.name)] = str(local)
        for binding in self.plan.outputs:
            local = self.workdir / "outputs" / binding.name
            local.mkdir(parents=True)
            if binding.kind == "uri_file":
                local = local / Path(binding.ref.path).name
            values[("outputs", binding.name)] = str(local)
        return values

    def prepare_log(self) -> None:
        """A fresh job folder with an empty log (also for jobs that fail before running)."""
        _force_rmtree(self.workdir)
        (self.workdir / "wd").mkdir(parents=True)
        self.log_path.parent.mkdir(parents=True)
        self.log_path.touch()

    def environment(self, values: dict[tuple[str, str], str]) -> dict[str, str]:
        env = dict(self.plan.environment)
        for (side, name), value in values.items():
            env[f"AZURE_ML_{side[:-1].upper()}_{name}"] = value
        return env

    def run(self, values: dict[tuple[str, str], str], stop: Stop) -> Outcome:
        """Run the command to its end, or until stopped or timed out (then kill its tree)."""
        command = substitute(self.plan.command, values)
        deadline = time.monotonic() + self.plan.timeout_s if self.plan.timeout_s else None
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen(
                ["/bin/bash", "-c", command],
                cwd=self.workdir / "wd",
                env=self.environment(values),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        last_upload = 0.0
        while True:
            try:
                code = proc.wait(timeout=0.05)
                _signal_group(proc.pid, signal.SIGKILL)  # leftovers die with it
                return Outcome(code)
            except subprocess.TimeoutExpired:
                pass
            if stop.event.is_set():
                kill_tree(proc)
                return Outcome(None, stop.reason)
            if deadline and time.monotonic() > deadline:
                kill_tree(proc)
                return Outcome(None, "timeout")
            if time.monotonic() - last_upload > LOG_UPLOAD_EVERY_S:
                last_upload = time.monotonic()
                with contextlib.suppress(AzureError):  # live copy only; the final upload reports
                    self.upload_log()

    def note(self, text: str) -> None:
        with open(self.log_path, "a") as log:
            log.write(text.rstrip("\n") + "\n")

    def upload_log(self) -> None:
        size = self.log_path.stat().st_size if self.log_path.exists() else -1
        if size != self._uploaded_size and size >= 0:
            container = self.stores.container_of(self.log_ref.datastore)
            self.stores.upload(container, self.log_ref.path, self.log_path, self.caller)
            self._uploaded_size = size

    def collect_outputs(self) -> None:
        for binding in self.plan.outputs:
            local = self.workdir / "outputs" / binding.name
            if binding.kind == "uri_file":
                local = local / Path(binding.ref.path).name
                if not local.exists():
                    continue
            container = self.stores.container_of(binding.ref.datastore)
            self.stores.upload(container, binding.ref.path, local, self.caller)

    def sync_outputs(self) -> None:
        """Mounted folder outputs (rw_mount) reach storage while the job runs: upload the files
        that changed since the last call."""
        for binding in self.plan.outputs:
            if binding.kind != "uri_folder":
                continue
            local = self.workdir / "outputs" / binding.name
            container = self.stores.container_of(binding.ref.datastore)
            for f in sorted(p for p in local.rglob("*") if p.is_file()):
                stat = f.stat()
                if self._synced.get(f) != (stat.st_size, stat.st_mtime_ns):
                    name = f"{binding.ref.path.rstrip('/')}/{f.relative_to(local).as_posix()}"
                    self.stores.upload(container, name, f, self.caller)
                    self._synced[f] = (stat.st_size, stat.st_mtime_ns)

    def clean(self) -> None:
        _force_rmtree(self.workdir)


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGTERM the job's process group, SIGKILL whatever is left after a grace period."""
    _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE_S
    while time.monotonic() < deadline and (proc.poll() is None or _group_alive(proc.pid)):
        time.sleep(0.05)
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def _force_rmtree(path: Path) -> None:
    """Remove a job folder, also when its inputs were made read-only."""
    if not path.exists():
        return
    try:
        shutil.rmtree(path)
    except PermissionError:
        for p in path.rglob("*"):
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o700)
        shutil.rmtree(path)
