#!/usr/bin/env python3
"""The workflow against bench/baseline.sh (the same tool commands, same threads) on the same
data, timed side by side in one run: E. coli 536 (Debian's bowtie-examples) and 4 samples of
250,000 simulated 2x150 pairs.

Prints `workflow/baseline wall: X` (target <= 1.10 on 2 cores) and the tools' CPU seconds
over the workflow's wall time x cores: how close the workflow comes to the machine's limit.
CPU is counted with getrusage over all descendants (the rules' benchmark files sample CPU
periodically and miss short processes). Snakemake's own CPU is its main process's (parsing,
planning, scheduling, benchmark sampling), measured in that process; the rest of the
workflow's CPU is its jobs': the tools, the scripts and the FASTQ check, beside the baseline's.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.workflow import copy_workflow  # noqa: E402

ECOLI = Path("/usr/share/doc/bowtie/examples/genomes/NC_008253.fna.gz")
SORT_MEM_MB = 4000  # what the workflow gives samtools sort: mem_mb 8000 x sort_mem_fraction 0.5
# `snakemake` that writes its own process's CPU seconds (not its jobs') to the file in argv[1].
SNAKEMAKE_SELF_CPU = """
import atexit, resource, sys
out = sys.argv.pop(1)
def report():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open(out, "w") as f:
        f.write(str(usage.ru_utime + usage.ru_stime))
atexit.register(report)
from snakemake.cli import main
sys.argv[0] = "snakemake"
main()
"""


def prepare_data(data: Path, samples: int, pairs: int) -> Path:
    stamp = data / f"ready-{samples}x{pairs}"
    if not stamp.exists():
        shutil.rmtree(data, ignore_errors=True)
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "make_demo_data.py"),
                str(data),
                "--reference",
                str(ECOLI),
                "--samples",
                str(samples),
                "--pairs",
                str(pairs),
            ],
            check=True,
        )
        stamp.touch()
    return data


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of a command and everything it started."""
    cpu, start = children_cpu(), time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, children_cpu() - cpu


def timed_snakemake(args: list[str], cwd: Path) -> tuple[float, float, float]:
    """Wall and CPU seconds of a snakemake run (with its jobs), and of its main process alone."""
    with tempfile.NamedTemporaryFile("r") as own:
        cmd = [sys.executable, "-c", SNAKEMAKE_SELF_CPU, own.name, *args]
        wall, cpu = timed(cmd, cwd)
        return wall, cpu, float(own.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "workflow")
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=250_000)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved runs of each")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    data = prepare_data(args.out / "data", args.samples, args.pairs)
    sheet, ref = data / "samples.tsv", data / "reference.fa"

    walls: dict[str, list[float]] = {"baseline": [], "workflow": []}
    cpus: dict[str, list[float]] = {"baseline": [], "workflow": []}
    own: list[float] = []
    for _ in range(args.rounds):
        base_out = args.out / "baseline"
        shutil.rmtree(base_out, ignore_errors=True)
        baseline = ["bash", str(ROOT / "bench" / "baseline.sh"), str(ref), str(sheet)]
        baseline += [str(base_out), str(cores), str(SORT_MEM_MB)]
        record(walls, cpus, "baseline", timed(baseline, ROOT))
        wf = args.out / "wf"
        shutil.rmtree(wf, ignore_errors=True)
        copy_workflow(wf)
        workflow = ["--cores", str(cores), "--config", f"samples={sheet}", f"reference={ref}"]
        wall, cpu, own_cpu = timed_snakemake(workflow, wf)
        record(walls, cpus, "workflow", (wall, cpu))
        own.append(own_cpu)

    base, work = median(walls["baseline"]), median(walls["workflow"])
    tools_cpu, work_cpu = median(cpus["baseline"]), median(cpus["workflow"])
    print(
        f"data: E. coli 536 (4.9 Mb), {args.samples} samples x {args.pairs:,} pairs, "
        f"{cores} cores, {args.rounds} interleaved rounds (medians)"
    )
    print(f"baseline wall: {base:.1f} s   workflow wall: {work:.1f} s")
    print(f"workflow/baseline wall: {work / base:.3f}")
    print(f"tools' CPU s / (workflow wall x cores): {tools_cpu / (work * cores):.2f}")
    print(
        f"CPU: workflow {work_cpu:.1f} s, of which Snakemake's main process {median(own):.1f} s "
        f"and its jobs {work_cpu - median(own):.1f} s; baseline {tools_cpu:.1f} s"
    )


def record(walls: dict, cpus: dict, name: str, wall_cpu: tuple[float, float]) -> None:
    walls[name].append(wall_cpu[0])
    cpus[name].append(wall_cpu[1])


if __name__ == "__main__":
    main()
