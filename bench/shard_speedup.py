#!/usr/bin/env python3
"""One large sample aligned in one piece vs in shards, under --profile aml on the local service.

Run: python3 bench/shard_speedup.py [--pairs 4000000] [--nodes 4] [--shard-pairs N]
     [--threads T] [--startup S]
One sample of `--pairs` simulated 2x150 pairs of E. coli 536 (wgsim, Debian's bowtie-examples)
goes through the workflow's BAM (index, alignment, merge, duplicate marking) twice, each time
in a fresh folder and datastore prefix on a cluster of `--nodes` nodes: once with split_fastq 0
(one bwa_mem job), once with split_fastq = `--shard-pairs` (default: pairs / nodes, so one shard
per node; count, split and merge added). Every bwa_mem job gets `--threads` threads (default:
this machine's cores / nodes, at least 1): the local service runs its nodes as processes on this
machine, so nodes x threads should not exceed its cores for the speed-up to mean anything.
Prints both wall times, the shard count and the speed-up, and per run where the time went: each
rule's jobs and seconds from their benchmark files (the slowest job and the sum; the rest of the
wall time is job starts, transfers and polling). Starts and stops its own Azurite and service.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aml_local.azurite import Azurite  # noqa: E402
from aml_local.launcher import AmlService  # noqa: E402
from bench.local_stack import local_aml, workflow  # noqa: E402

ECOLI = Path("/usr/share/doc/bowtie/examples/genomes/NC_008253.fna.gz")
TARGET = "results/mapped/S1.bam"


def simulate(data: Path, pairs: int) -> None:
    subprocess.run(
        [
            sys.executable, str(ROOT / "scripts" / "make_demo_data.py"), str(data),
            "--reference", str(ECOLI), "--samples", "1", "--pairs", str(pairs),
            "--duplicate-every", "0",
        ],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def run(service: AmlService, azurite: Azurite, folder: Path, threads: int) -> tuple[float, str]:
    """(wall seconds, the datastore folder of the run's outputs)."""
    folder_name = f"bench{uuid.uuid4().hex[:8]}"
    prefix = f"azureml://datastores/workspaceblobstore/paths/{folder_name}"
    args = [
        "snakemake", TARGET, "--profile", "workflow_profiles/aml",
        "--default-storage-prefix", prefix,
        "--storage-azureml-account-url", azurite.blob_endpoint,
        "--storage-azureml-container", service.info["datastores"]["workspaceblobstore"],
        "--aml-status-interval", "1", "--retries", "0",
        "--set-threads", f"bwa_mem={threads}",
        "--configfile", "config/bench.yaml",
    ]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=folder, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"snakemake failed in {folder}:\n{proc.stderr[-5000:]}")
    return time.perf_counter() - start, folder_name


def breakdown(service: AmlService, folder_name: str) -> str:
    """Per rule: jobs, the slowest job's and the summed seconds, from the benchmark files
    the run wrote to the datastore."""
    container = service.container()
    seconds: dict[str, list[float]] = {}
    for blob in container.list_blobs(name_starts_with=f"{folder_name}/benchmarks/"):
        rule = blob.name.split("/")[2]
        table = container.download_blob(blob.name).readall().decode().splitlines()
        seconds.setdefault(rule, []).append(float(table[1].split("\t")[0]))
    return "\n".join(
        f"    {rule:<18} {len(s):>2} job(s): slowest {max(s):6.1f} s, sum {sum(s):6.1f} s"
        for rule, s in seconds.items()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4_000_000)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--shard-pairs", type=int, help="default: pairs / nodes")
    parser.add_argument("--threads", type=int, help="per bwa_mem job; default: cores / nodes")
    parser.add_argument("--startup", type=float, default=0.0, help="seconds per node allocation")
    args = parser.parse_args()
    shard_pairs = args.shard_pairs or math.ceil(args.pairs / args.nodes)
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.nodes)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        simulate(data, args.pairs)
        with local_aml(Path(tmp), args.nodes, args.startup) as (service, azurite):
            whole_folder = workflow(Path(tmp) / "whole", data, 0)
            whole, whole_out = run(service, azurite, whole_folder, threads)
            sharded_folder = workflow(Path(tmp) / "sharded", data, shard_pairs)
            sharded, sharded_out = run(service, azurite, sharded_folder, threads)
            whole_rules = breakdown(service, whole_out)
            sharded_rules = breakdown(service, sharded_out)
    shards = math.ceil(args.pairs / shard_pairs)
    print(f"{args.pairs:,} pairs, {args.nodes} nodes, {threads} thread(s) per bwa_mem job")
    print(f"   one piece: wall {whole:7.1f} s\n{whole_rules}")
    print(f"{shards:>3} shards of {shard_pairs:,} pairs: wall {sharded:7.1f} s\n{sharded_rules}")
    print(f"speed-up: {whole / sharded:.2f}x")


if __name__ == "__main__":
    main()
