#!/usr/bin/env python3
"""Bytes the workflow moves under --profile aml, vs the minimum: node cache off, then on.

Run: python3 bench/data_movement.py [--samples 3] [--pairs 2000] [--split 500] [--nodes 4]
`--samples` samples of `--pairs` simulated 2x150 pairs of E. coli 536 (Debian's bowtie-examples),
each split into shards of `--split` pairs (bwa_mem items of the parallel step), go through the
whole workflow (FastQC, index, alignment, merge, QC, MultiQC) on a cluster of `--nodes` nodes,
twice, each on a fresh local stack (cold nodes): the node cache off
(`--storage-azureml-node-cache-max-bytes 0`), then on for every input
(`--storage-azureml-node-cache-min-bytes 1`: at this scale no input reaches the default 64 MiB,
at hg38's the index and reference do). The datastore is found through the workspace, as a
user's run finds it, so every transfer passes the service's counters (`/_local/traffic`).
Prints per rule the bytes read from the datastore vs the minimum (each distinct blob once per
node that reads it, at its size as read), the bytes written vs each output once (the bridge's
own files under `.snakemake/` and Azure ML's job logs left out), the ratios, the outputs that
more than one job wrote, and whether each run's BAMs hold the records of a local run of the
same configuration. `--traffic-dir DIR` keeps each run's `/_local/traffic` as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aml_local.launcher import INHERITED_CLOUD_ENV  # noqa: E402
from bench.local_stack import local_aml, workflow  # noqa: E402
from tests.workflow.test_shard import records  # noqa: E402

ECOLI = Path("/usr/share/doc/bowtie/examples/genomes/NC_008253.fna.gz")
MODES = {
    "cache off": ("--storage-azureml-node-cache-max-bytes", "0"),
    "cache on": ("--storage-azureml-node-cache-min-bytes", "1"),
}
SUBMIT_HOST = "(submit host)"
BOOKKEEPING = "/.snakemake/"  # the bridge's own files: plugin bundle, group manifests and logs
MIB = 1 << 20


@dataclass
class RuleBytes:
    """One rule's traffic on the workflow's datastore."""

    jobs: set[str] = field(default_factory=set)
    read: int = 0
    written: int = 0
    reads: set[tuple[str, str]] = field(default_factory=set)  # (node, blob)
    writes: set[str] = field(default_factory=set)


def simulate(data: Path, samples: int, pairs: int) -> None:
    subprocess.run(
        [
            sys.executable, str(ROOT / "scripts" / "make_demo_data.py"), str(data),
            "--reference", str(ECOLI), "--samples", str(samples), "--pairs", str(pairs),
            "--duplicate-every", "0",
        ],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def snakemake(folder: Path, *args: str) -> None:
    proc = subprocess.run(
        ["snakemake", "--configfile", "config/bench.yaml", *args],
        cwd=folder, capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"snakemake failed in {folder}:\n{proc.stderr[-5000:]}")


def bams(folder: Path) -> dict[str, list]:
    return {p.name: records(p) for p in sorted((folder / "results" / "mapped").glob("*.bam"))}


def per_rule(service, traffic: dict, container: str) -> dict[str, RuleBytes]:  # noqa: ANN001
    """Traffic on the workflow's container by rule: a job's rule from its (or its pipeline
    job's) `snakemake_rule` tag; requests from no job are the submit host's."""
    jobs, rules = service.ml_client().jobs, {}

    def rule_of(job: str) -> str:
        if job == "client":
            return SUBMIT_HOST
        owner = traffic["parents"].get(job, job)
        if owner not in rules:
            rules[owner] = jobs.get(owner).tags.get("snakemake_rule", owner)
        return rules[owner]

    out: dict[str, RuleBytes] = defaultdict(RuleBytes)
    for row in traffic["blobs"]:
        if row["container"] != container or (row["written"] and BOOKKEEPING in row["blob"]):
            continue  # Azure ML's artifacts (job logs) and the bridge's own files: not data
        entry = out[rule_of(row["job"])]
        entry.jobs.add(row["job"])
        entry.read += row["read"]
        entry.written += row["written"]
        if row["read"]:
            entry.reads.add((row["node"], row["blob"]))
        if row["written"]:
            entry.writes.add(row["blob"])
    return out


def measure(
    tmp: Path, data: Path, args: argparse.Namespace, mode: str
) -> tuple[dict, bool, list[str]]:
    """(bytes per rule with their minimum, whether the BAMs equal the local run's, outputs
    that more than one job wrote)."""
    folder = workflow(tmp / mode.replace(" ", "-"), data, args.split)
    with local_aml(tmp / f"stack-{mode.replace(' ', '-')}", args.nodes, 0.0) as (service, _):
        container = service.info["datastores"]["workspaceblobstore"]
        os.environ.pop(INHERITED_CLOUD_ENV, None)  # the previous stack's, set by its MLClient
        service.control("DELETE", "traffic")
        prefix = f"azureml://datastores/workspaceblobstore/paths/bench{uuid.uuid4().hex[:8]}"
        snakemake(
            folder, "--profile", "workflow_profiles/aml", "--default-storage-prefix", prefix,
            "--aml-status-interval", "1", "--retries", "0", *MODES[mode],
        )  # fmt: skip
        traffic = service.control("GET", "traffic")
        if args.traffic_dir:
            args.traffic_dir.mkdir(parents=True, exist_ok=True)
            target = args.traffic_dir / f"{mode.replace(' ', '-')}.json"
            target.write_text(json.dumps(traffic, indent=1))
        rules = per_rule(service, traffic, container)
        sizes = {b.name: b.size for b in service.container().list_blobs()}
        path = prefix.split("/paths/", 1)[1]
        for bam in service.container().list_blobs(name_starts_with=f"{path}/results/mapped/"):
            if bam.name.endswith(".bam"):
                local = folder / "results" / "mapped" / Path(bam.name).name
                local.parent.mkdir(parents=True, exist_ok=True)
                with local.open("wb") as fh:
                    service.container().download_blob(bam.name).readinto(fh)
    # A blob's size: as the service saw it read whole; for outputs, as listed at the end (a
    # temp output, deleted by then: the most written of it by one job on one node).
    read_size = {row["blob"]: row["size"] for row in traffic["blobs"] if row["size"]}
    largest = defaultdict(int)
    for row in traffic["blobs"]:
        largest[row["blob"]] = max(largest[row["blob"]], row["written"])
    rsize = lambda blob: read_size.get(blob, sizes.get(blob, 0))  # noqa: E731
    wsize = lambda blob: sizes.get(blob, largest[blob])  # noqa: E731
    table = {
        rule: (len(r.jobs), r.read, sum(rsize(b) for _, b in r.reads), r.written,
               sum(wsize(b) for b in r.writes))
        for rule, r in sorted(rules.items())
    }  # fmt: skip
    reads = {pair for r in rules.values() for pair in r.reads}
    writes = {blob for r in rules.values() for blob in r.writes}
    total = (
        sum(len(r.jobs) for r in rules.values()),
        sum(r.read for r in rules.values()),
        sum(rsize(b) for _, b in reads),
        sum(r.written for r in rules.values()),
        sum(wsize(b) for b in writes),
    )
    writers = defaultdict(set)
    for row in traffic["blobs"]:
        if row["container"] == container and row["written"] and BOOKKEEPING not in row["blob"]:
            writers[row["blob"]].add(row["job"])
    twice = sorted(blob.split("/", 1)[1] for blob, jobs in writers.items() if len(jobs) > 1)
    return {**table, "all": total}, bams(folder) == args.local_bams, twice


def ratio(value: int, minimum: int) -> str:
    return f"{value / minimum:5.2f}x" if minimum else "    - "


def show(mode: str, table: dict, equal: bool, twice: list[str]) -> None:
    print(f"\n{mode}: BAMs {'equal to' if equal else 'DIFFER from'} the local run's; outputs "
          f"written by more than one job: {', '.join(twice) or 'none'}")  # fmt: skip
    print(f"  {'rule':<16}{'jobs':>5}{'read MiB':>10}{'min MiB':>9}{'ratio':>8}"
          f"{'written MiB':>13}{'min MiB':>9}{'ratio':>8}")  # fmt: skip
    for rule, (jobs, read, rmin, written, wmin) in table.items():
        print(
            f"  {rule:<16}{jobs:>5}{read / MIB:>10.2f}{rmin / MIB:>9.2f}{ratio(read, rmin):>8}"
            f"{written / MIB:>13.2f}{wmin / MIB:>9.2f}{ratio(written, wmin):>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=2000, help="read pairs per sample")
    parser.add_argument("--split", type=int, default=500, help="read pairs per shard")
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--traffic-dir", type=Path, help="write each run's /_local/traffic here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        simulate(tmp / "data", args.samples, args.pairs)
        local = workflow(tmp / "local", tmp / "data", args.split)
        snakemake(local, "--cores", str(os.cpu_count() or 1))
        args.local_bams = bams(local)
        results = {mode: measure(tmp, tmp / "data", args, mode) for mode in MODES}
    shards = args.samples * -(-args.pairs // args.split)
    print(f"{args.samples} samples x {args.pairs} pairs, {shards} shards, {args.nodes} nodes")
    for mode, result in results.items():
        show(mode, *result)
    (off, _, _), (on, _, _) = results.values()
    print(
        f"\nbytes read / minimum: {ratio(off['all'][1], off['all'][2]).strip()} with the cache "
        f"off, {ratio(on['all'][1], on['all'][2]).strip()} with it on; bytes written / minimum: "
        f"{ratio(off['all'][3], off['all'][4]).strip()}, "
        f"{ratio(on['all'][3], on['all'][4]).strip()}"
    )


if __name__ == "__main__":
    main()
