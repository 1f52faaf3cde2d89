"""The parallel runtime of one `type: parallel` step, as Azure ML documents it.

Items are the files of the `input_data` folder (a file input is one item), cut into
mini-batches of `mini_batch_size`. `instance_count` nodes each run
`max_concurrency_per_instance` worker processes (`parallel_worker.py`); every worker calls the
entry script's `init()` once and `run()` per mini-batch. A mini-batch whose `run()` raises, or
outlives `retry_settings.timeout` (its worker is killed and replaced), or returns fewer rows
than it has items, is retried up to `retry_settings.max_retries` times (a retried try's rows
are dropped: the retry runs the whole mini-batch again). `mini_batch_error_threshold` counts
mini-batches that still failed after their retries; `error_threshold` counts failed items as
each try fails (a raising or timed-out try: all its items; a short one: the missing ones),
before their retries are known. Either exceeded (-1: no limit) fails the step. Returned rows
go to the `append_row_to` output.
Logs: `logs/job_result.txt`, `logs/user/{stdout,stderr,error,entry_script_log}/<node>/...`,
`logs/sys/node/<node>/...`. Workers run with the step's image's Python. An image without the
runtime's own packages (`RUNTIME_PACKAGES`: Azure's docs require azureml-core and
azureml-dataset-runtime[fuse]; the runtime's driver imports azureml.core) fails the step before
any mini-batch.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from azure.core.exceptions import AzureError

from .builds import Build
from .runner import Stop, kill_tree

WORKER = Path(__file__).with_name("parallel_worker.py")
SYNC_EVERY_S = 1.0
RESULT_FILE = "parallel_run_step.txt"  # append_row_to a folder: the rows' file in it
# module the runtime imports: the package that provides it
RUNTIME_PACKAGES = {
    "azureml.core": "azureml-core",
    "azureml.dataprep": "azureml-dataset-runtime",
    "fuse": "azureml-dataset-runtime[fuse] (fusepy)",
}


@dataclass(frozen=True)
class ParallelSettings:
    entry_script: str
    program_arguments: list[str]
    mini_batch_size: int = 1
    instance_count: int = 1
    max_concurrency_per_instance: int = 1
    max_retries: int = 2
    timeout_s: float = 60.0
    mini_batch_error_threshold: int = -1
    error_threshold: int = -1
    logging_level: str = "INFO"


@dataclass
class _Batch:
    number: int
    items: list[str]
    tries: int = 0


@dataclass
class StepResult:
    """How the step ended: `failed` is the reason ("" when it completed), `stopped` a Stop's."""

    rows: list[str] = field(default_factory=list)
    failed: str = ""
    stopped: str = ""


def items_of(folder: Path) -> list[str]:
    """Every file under the input, in name order (a file input is one item)."""
    if folder.is_file():
        return [str(folder)]
    return sorted(str(p) for p in folder.rglob("*") if p.is_file())


class ParallelStep:
    def __init__(
        self,
        settings: ParallelSettings,
        items: list[str],
        code_dir: Path,
        logs_dir: Path,
        environment: dict[str, str],
        stop: Stop,
        build: Build,
        sync: Callable[[], None] = lambda: None,
        node_environments: list[dict[str, str]] | None = None,
    ) -> None:
        self._sync = sync  # mounted outputs reach storage while the step runs
        # what each node's workers see besides `environment` (its Batch node id, shared dir)
        self._node_env = {_node_label(n): env for n, env in enumerate(node_environments or [])}
        self.build = build  # no image: an image-only environment, run with this machine's
        self.python = str(build.image.python) if build.image else sys.executable
        self.s, self.code_dir, self.logs, self.env, self.stop = (
            settings,
            code_dir,
            logs_dir,
            environment,
            stop,
        )
        size = settings.mini_batch_size
        batches = [items[i : i + size] for i in range(0, len(items), size)]
        self._todo: queue.Queue[_Batch] = queue.Queue()
        for number, batch in enumerate(batches):
            self._todo.put(_Batch(number, batch))
        self._pending = self._total = len(batches)
        self._log_lock = threading.Lock()
        self._lock = threading.Lock()
        self._rows: list[str] = []
        self._failed_batches = 0
        self._failed_items = 0
        self._abort = ""
        self._done = threading.Event()
        if not batches:
            self._done.set()

    def run(self) -> StepResult:
        self._write_log("job_result.txt", "")
        missing = self._missing_runtime()
        if missing:
            self._write_log("job_result.txt", missing + "\n")
            return StepResult(failed=missing)
        workers = [
            threading.Thread(target=self._worker, args=(_node_label(n), p), daemon=True)
            for n in range(self.s.instance_count)
            for p in range(self.s.max_concurrency_per_instance)
        ]
        for w in workers:
            w.start()
        last_sync = time.monotonic()
        while not self._done.wait(0.05):
            if self.stop.event.is_set():
                break
            if time.monotonic() - last_sync > SYNC_EVERY_S:
                with contextlib.suppress(AzureError):  # a live copy; the end uploads all
                    self._sync()
                last_sync = time.monotonic()
        self._done.set()  # workers stop taking mini-batches
        for w in workers:
            w.join()
        result = StepResult(rows=list(self._rows), stopped=self.stop.reason)
        if not result.stopped:
            result.failed = self._abort or self._threshold_failure()
        summary = result.failed or (
            f"Completed: {len(self._rows)} row(s) from {self._total} mini-batch(es); "
            f"{self._failed_batches} mini-batch(es) and {self._failed_items} item(s) failed."
        )
        self._write_log("job_result.txt", summary + "\n")
        return result

    def _missing_runtime(self) -> str:
        """Why the runtime cannot start in the step's image ("" when it can)."""
        if self.build.image is None:
            return ""  # an image-only environment cannot be looked into
        missing = self.build.image.missing_modules(list(RUNTIME_PACKAGES))
        if not missing:
            return ""
        needs = ", ".join(f"{RUNTIME_PACKAGES[m]} (module {m})" for m in missing)
        return (
            f"The parallel runtime could not start: environment {self.build.label} lacks "
            f"{needs}. A parallel job's environment needs azureml-core and "
            "azureml-dataset-runtime[fuse] in its conda file's pip section."
        )

    def _threshold_failure(self) -> str:
        s = self.s
        if 0 <= s.mini_batch_error_threshold < self._failed_batches:
            return (
                f"{self._failed_batches} mini-batch(es) failed after {s.max_retries} retries, "
                f"more than mini_batch_error_threshold {s.mini_batch_error_threshold}. "
                "See logs/user/error for the errors."
            )
        if 0 <= s.error_threshold < self._failed_items:
            return (
                f"{self._failed_items} item(s) failed, more than error_threshold "
                f"{s.error_threshold}. See logs/user/error for the errors."
            )
        return ""

    # -- one worker process slot -------------------------------------------------------------
    def _worker(self, node: str, process: int) -> None:
        proc: _Process | None = None
        try:
            while not self._done.is_set():
                try:
                    batch = self._todo.get(timeout=0.05)
                except queue.Empty:
                    continue
                if proc is None:
                    proc = self._start(node, process)
                ok, answer = proc.call(batch.items, self.s.timeout_s, self.stop, self._done)
                if "ended" in answer or "init_error" in answer:  # run() raising keeps its worker
                    proc.kill()
                    proc = None
                self._settle(node, process, batch, ok, answer)
        finally:
            if proc is not None:
                proc.kill()

    def _start(self, node: str, process: int) -> _Process:
        name = f"process{process:03d}"
        user = self.logs / "user"
        env = {
            **self.env,
            **self._node_env.get(node, {}),
            "AZ_PRS_STDOUT": str(user / "stdout" / node / f"{name}.stdout.txt"),
            "AZ_PRS_STDERR": str(user / "stderr" / node / f"{name}.stderr.txt"),
            "AZ_PRS_LOG": str(user / "entry_script_log" / node / f"{name}.log.txt"),
            "AZ_PRS_LOGGING_LEVEL": self.s.logging_level,
        }
        self._write_log(f"sys/node/{node}/{name}.txt", f"{_now()} worker started\n", append=True)
        command = [self.python, str(WORKER), self.s.entry_script, *self.s.program_arguments]
        return _Process(command, self.code_dir, env)

    def _settle(self, node: str, process: int, batch: _Batch, ok: bool, answer: dict) -> None:
        if self.stop.event.is_set():
            return
        error_log = f"user/error/{node}/process{process:03d}.txt"
        rows = answer.get("rows", []) if ok else []
        missing = len(batch.items) - len(rows) if ok else len(batch.items)
        if missing <= 0:
            with self._lock:
                self._rows += rows
                self._pending -= 1
                self._check_thresholds()
            return
        batch.tries += 1
        final = batch.tries > self.s.max_retries
        with self._lock:
            self._failed_items += missing
            if final:
                self._rows += rows  # the last try's rows: the items that succeeded
                self._failed_batches += 1
                self._pending -= 1
            self._check_thresholds()
        reason = (
            f"run() returned {len(rows)} row(s) for {len(batch.items)} item(s)"
            if ok
            else answer.get("error") or answer.get("init_error") or answer["ended"]
        )
        self._write_log(
            error_log,
            f"{_now()} mini-batch {batch.number} ({', '.join(Path(i).name for i in batch.items)})"
            f" failed on try {batch.tries}:\n{reason}\n",
            append=True,
        )
        if not final and not self._done.is_set():  # done: a threshold ended the step
            self._todo.put(batch)

    def _check_thresholds(self) -> None:
        """With the lock held: end the step when a threshold is exceeded or all are done."""
        failure = self._threshold_failure()
        if failure:
            self._abort = failure
        if failure or self._pending == 0:
            self._done.set()

    def _write_log(self, relative: str, text: str, append: bool = False) -> None:
        path = self.logs / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_lock, open(path, "a" if append else "w") as f:
            f.write(text)


class _Process:
    """One worker process and the thread that reads its answers."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.answers: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready: dict | None = None

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.answers.put(json.loads(line))
        self.answers.put({})  # the worker ended

    def call(
        self, items: list[str], timeout_s: float, stop: Stop, done: threading.Event
    ) -> tuple[bool, dict]:
        """(succeeded, answer) of one run(); the per-call timeout covers init() the first time."""
        deadline = time.monotonic() + timeout_s
        if self.ready is None:
            self.ready = self._answer(deadline, stop, done)
            if not self.ready.get("ready"):
                return False, self.ready
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(items) + "\n")
            self.proc.stdin.flush()
        except OSError:
            return False, {"ended": "the worker process ended"}
        answer = self._answer(deadline, stop, done)
        return "rows" in answer, answer

    def _answer(self, deadline: float, stop: Stop, done: threading.Event) -> dict:
        while True:
            try:
                return self.answers.get(timeout=0.05) or {"ended": "the worker process ended"}
            except queue.Empty:
                pass
            if stop.event.is_set() or done.is_set():  # canceled, or the step failed
                return {"ended": "stopped"}
            if time.monotonic() > deadline:
                return {"ended": "run() exceeded retry_settings.timeout; the worker was killed"}

    def kill(self) -> None:
        kill_tree(self.proc)


def _node_label(number: int) -> str:
    """The node's folder name in the step's logs."""
    return f"node{number:03d}"


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")
