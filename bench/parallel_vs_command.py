"""Groups as parallel steps vs one command job per item, through `snakemake --executor aml`.

Run: python3 bench/parallel_vs_command.py [--items 48] [--nodes 4] [--startup 20] [--seconds 5]
The local Azure ML service gets a cluster of `--nodes` nodes (8 cores each) whose node
allocations take `--startup` seconds and are released as soon as a job ends (no idle time).
The same workflow of `--items` FastQC-sized jobs (1 thread, `--seconds` each) runs twice on it:
as one command job per item, then as one group (`--groups`/`--group-components`): one pipeline
job whose parallel step spreads the items over the nodes. Prints wall time, node allocations
and submitted jobs of both, and the ratios (targets: wall ≤ 0.5x, allocations ≤ 1/4).
Starts and stops its own Azurite and service.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aml_local.azurite import Azurite  # noqa: E402
from aml_local.launcher import AmlService  # noqa: E402
from bench.local_stack import local_aml  # noqa: E402

SNAKEFILE = """
rule all:
    input:
        expand("results/{{i}}.txt", i=range({items})),


rule item:
    output:
        "results/{{i}}.txt",
    threads: 1
    resources:
        runtime=10,
    shell:
        "sleep {seconds}; echo {{wildcards.i}} > {{output}}"
"""


def run_mode(service: AmlService, azurite: Azurite, folder: Path, grouped: bool, items: int):
    """(wall seconds, node allocations, job PUTs) of one run of the workflow."""
    before = service.stats()["node_allocations"]
    service.clear_requests()
    prefix = f"azureml://datastores/workspaceblobstore/paths/bench{uuid.uuid4().hex[:8]}"
    args = [
        "snakemake", "--executor", "aml", "--jobs", str(items),
        "--default-storage-provider", "azureml", "--default-storage-prefix", prefix,
        "--storage-azureml-account-url", azurite.blob_endpoint,
        "--storage-azureml-container", service.info["datastores"]["workspaceblobstore"],
        "--aml-status-interval", "1",
    ]  # fmt: skip
    if grouped:
        args += ["--groups", "item=items", "--group-components", f"items={items}"]
    start = time.perf_counter()
    subprocess.run(args, cwd=folder, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    puts = sum(
        1
        for r in service.requests()
        if r["method"] == "PUT" and r["route"].endswith("/jobs/{name}")
    )
    return wall, service.stats()["node_allocations"] - before, puts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=48)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--startup", type=float, default=20.0, help="seconds per node allocation")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per item")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        local_aml(Path(tmp), args.nodes, args.startup) as (service, azurite),
    ):
        results = {}
        for mode, grouped in (("command jobs", False), ("parallel step", True)):
            folder = Path(tmp) / mode.replace(" ", "_")
            folder.mkdir()
            text = SNAKEFILE.format(items=args.items, seconds=args.seconds)
            (folder / "Snakefile").write_text(text)
            results[mode] = run_mode(service, azurite, folder, grouped, args.items)
    print(f"{args.items} items, {args.nodes} nodes, {args.startup:g} s per node allocation")
    for mode, (wall, allocations, puts) in results.items():
        print(f"{mode:>14}: wall {wall:7.1f} s, node allocations {allocations:3d}, jobs {puts}")
    (cw, ca, _), (pw, pa, _) = results["command jobs"], results["parallel step"]
    print(f"parallel/command: wall {pw / cw:.2f}x (target <= 0.5), allocations {pa / ca:.2f}x "
          "(target <= 0.25)")  # fmt: skip


if __name__ == "__main__":
    main()
