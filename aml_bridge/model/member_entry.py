"""Entry script of a group's parallel step: each item is one member's manifest (a Snakemake job).

Shipped as the step's code and run by Azure ML's parallel runtime, so standard library only.
`run()` runs each member's own `python -m snakemake ...` command in a fresh working folder
(the worker processes of a node share one, and a Snakemake job deploys the workflow's sources
into its working folder and cleans up there), its output in `<--logs>/<member id>.log`, and
returns one row (the member id) per member that succeeded; a failed member raises, so the
runtime retries its mini-batch (members that already succeeded in this step leave an `.ok`
mark and are not run again). Each run of a member appends "start end exit" (epoch seconds) to
`<id>.times` beside its log: the run trace splits the step's node time by them.
"""

import argparse
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ARGS = argparse.Namespace()
log = logging.getLogger("snakemake_members")


def init() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logs", required=True, help="folder for each member's log")
    parser.add_argument("--plugins", default="", help="folder with the storage plugin")
    ARGS.__dict__.update(vars(parser.parse_known_args()[0]))  # the runtime adds its own flags
    Path(ARGS.logs).mkdir(parents=True, exist_ok=True)


def _run_member(member: dict) -> int:
    logs = Path(ARGS.logs)
    if (logs / f"{member['id']}.ok").exists():
        return 0
    env = dict(os.environ)
    if ARGS.plugins:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [ARGS.plugins, env.get("PYTHONPATH")]))
    workdir = tempfile.mkdtemp(prefix=f"member-{member['id']}-")
    start, code = time.time(), -1
    try:
        with open(logs / f"{member['id']}.log", "w") as out:
            code = subprocess.call(
                ["/bin/bash", "-c", member["command"]],
                cwd=workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        with open(logs / f"{member['id']}.times", "a") as times:
            times.write(f"{start:.3f} {time.time():.3f} {code}\n")
    if code == 0:
        (logs / f"{member['id']}.ok").touch()
    return code


def run(mini_batch: list) -> list:
    rows, failed = [], []
    for path in mini_batch:
        member = json.loads(Path(path).read_text())
        code = _run_member(member)
        log.info("member %s (%s) exited with %s", member["id"], member["label"], code)
        print(f"member {member['id']} ({member['label']}) exited with {code}", flush=True)
        if code == 0:
            rows.append(member["id"])
        else:
            failed.append(f"{member['label']} (exit code {code})")
    if failed:
        raise RuntimeError("member job(s) failed: " + ", ".join(failed))
    return rows
