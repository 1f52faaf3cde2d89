"""One worker process of a parallel step, as Azure ML's runtime drives the entry script.

Standalone (stdlib only): started with the job's interpreter in the step's code folder as
`python parallel_worker.py ENTRY_SCRIPT [PROGRAM ARGUMENTS...]`. It imports the entry script,
calls `init()` once, then reads one mini-batch per line on stdin (a JSON list of item paths),
calls `run(mini_batch)` and answers one JSON line on the protocol pipe: {"rows": [...]} or
{"error": "<traceback>"}. The entry script's own stdout/stderr go to the step's log files
(AZ_PRS_STDOUT / AZ_PRS_STDERR); its `logging` goes to the entry-script log (AZ_PRS_LOG).
"""

import importlib.util
import json
import logging
import os
import sys
import traceback


def _redirect(fd: int, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(target, fd)
    os.close(target)


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    _redirect(1, os.environ["AZ_PRS_STDOUT"])
    _redirect(2, os.environ["AZ_PRS_STDERR"])
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    os.makedirs(os.path.dirname(os.environ["AZ_PRS_LOG"]), exist_ok=True)
    logging.basicConfig(
        filename=os.environ["AZ_PRS_LOG"],
        level=os.environ.get("AZ_PRS_LOGGING_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    entry = sys.argv[1]
    sys.argv = [entry, *sys.argv[2:]]  # the entry script parses its own arguments
    sys.path.insert(0, os.getcwd())
    spec = importlib.util.spec_from_file_location("entry_script", entry)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        if hasattr(module, "init"):
            module.init()
    except BaseException:
        protocol.write(json.dumps({"init_error": traceback.format_exc()}) + "\n")
        sys.exit(1)
    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        batch = json.loads(line)
        try:
            rows = module.run(batch)
            answer = {"rows": [row if isinstance(row, str) else str(row) for row in list(rows)]}
        except BaseException:
            answer = {"error": traceback.format_exc()}
        protocol.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
