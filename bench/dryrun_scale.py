"""Dry-run cost of the workflow at scale vs a bare Snakefile with the same jobs.

Run: python3 bench/dryrun_scale.py [--samples 1000] [--rounds 3] [--large 10000]
The bare Snakefile has as many jobs per FASTQ, per unit, per sample and in total as the workflow
(one unit per sample: FastQC twice, BWA-MEM, merge with markdup, stats with flagstat, mosdepth;
the index and MultiQC once), whose rules only touch their outputs and whose inputs come from
plain dicts, and the workflow's garbage-collector setting (workflow/rules/common.smk): what is left
of the ratio is the workflow's own planning cost (sheet checks, input functions, params, its logs
and benchmarks). Prints the median of interleaved rounds of `snakemake -n` on both, wall and CPU
(user + sys: what counts on a shared machine), their ratio (target <= 1.5 at 1,000 samples), and
one dry run of each on --large samples (target: the workflow under a minute on 2 cores; the bare
Snakefile's figure is Snakemake's own floor).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.workflow import copy_workflow, write_fastq  # noqa: E402

# Per-sample rules of the workflow after alignment; keep in step with workflow/rules/*.smk.
PER_SAMPLE = ["markdup", "stats", "mosdepth"]

BARE = """
import csv
import gc
gc.set_threshold(1_000_000, 10, 10)  # as workflow/rules/common.smk
rows = list(csv.DictReader(open(config["samples"]), delimiter="\\t"))
FQ = {{(r["sample"], r["unit"], "R1"): r["fq1"] for r in rows}}
FQ.update({{(r["sample"], r["unit"], "R2"): r["fq2"] for r in rows}})
UNITS = {{}}
for r in rows:
    UNITS.setdefault(r["sample"], []).append(r["unit"])

rule all:
    input:
        expand("bare/{{kind}}/{{sample}}.out", kind={per_sample!r}, sample=UNITS),
        "bare/multiqc.out",

rule index:
    input: config["reference"]
    output: "bare/index.out"
    shell: "touch {{output}}"

rule fastqc:
    input: lambda w: FQ[(w.sample, w.unit, w.read)]
    output: "bare/fastqc/{{sample}}/{{unit}}_{{read}}.out"
    shell: "touch {{output}}"

rule bwa_mem:
    input:
        reads=lambda w: [FQ[(w.sample, w.unit, "R1")], FQ[(w.sample, w.unit, "R2")]],
        index="bare/index.out",
    output: "bare/units/{{sample}}/{{unit}}.out"
    shell: "touch {{output}}"

rule markdup:
    input: lambda w: expand("bare/units/{{s}}/{{u}}.out", s=w.sample, u=UNITS[w.sample])
    output: "bare/markdup/{{sample}}.out"
    shell: "touch {{output}}"

rule mosdepth:
    input: "bare/markdup/{{sample}}.out"
    output: "bare/mosdepth/{{sample}}.out"
    shell: "touch {{output}}"

rule stats:
    input: "bare/markdup/{{sample}}.out"
    output: "bare/stats/{{sample}}.out", "bare/flagstat/{{sample}}.out"
    shell: "touch {{output}}"

rule multiqc:
    input:
        [f"bare/fastqc/{{s}}/{{u}}_{{r}}.out" for (s, u, r) in FQ],
        expand(
            "bare/{{kind}}/{{sample}}.out",
            kind=["stats", "flagstat", "markdup", "mosdepth"],
            sample=UNITS,
        ),
    output: "bare/multiqc.out"
    shell: "touch {{output}}"
"""


def make_inputs(wf: Path, samples: int) -> Path:
    """A sheet of `samples` one-unit samples over two real (tiny) FASTQs per sample."""
    data = wf / "data"
    data.mkdir(exist_ok=True)
    (data / "ref.fa").write_text(">chr1\n" + "ACGT" * 250 + "\n")
    rows = ["sample\tunit\tfq1\tfq2"]
    for i in range(samples):
        pair = [f"data/S{i}_R{r}.fastq.gz" for r in (1, 2)]
        for path in pair:
            if not (wf / path).exists():
                write_fastq(wf / path, [f"r{i}"])
        rows.append(f"S{i}\tL1\t{pair[0]}\t{pair[1]}")
    sheet = data / f"samples_{samples}.tsv"
    sheet.write_text("\n".join(rows) + "\n")
    return sheet


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dry_run(wf: Path, snakefile: str, sheet: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, jobs planned) of one `snakemake -n`."""
    args = ["snakemake", "-n", "-s", snakefile, "--config", f"samples={sheet}"]
    args.append("reference=data/ref.fa")
    cpu, start = children_cpu(), time.perf_counter()
    proc = subprocess.run(args, cwd=wf, capture_output=True, text=True)
    elapsed, cpu = time.perf_counter() - start, children_cpu() - cpu
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    total = [line for line in proc.stdout.splitlines() if line.startswith("total")]
    return elapsed, cpu, int(total[-1].split()[1]) if total else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--large", type=int, default=10000, help="0 skips the large dry run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wf = copy_workflow(Path(tmp) / "wf")
        (wf / "Bare.smk").write_text(BARE.format(per_sample=PER_SAMPLE))
        sheet = make_inputs(wf, args.samples)
        runs: dict[str, list[tuple[float, float, int]]] = {"bare": [], "workflow": []}
        for _ in range(args.rounds):
            runs["bare"].append(dry_run(wf, "Bare.smk", sheet))
            runs["workflow"].append(dry_run(wf, "workflow/Snakefile", sheet))
        bare_jobs, real_jobs = runs["bare"][-1][2], runs["workflow"][-1][2]
        if bare_jobs != real_jobs:
            print(f"note: the bare Snakefile plans {bare_jobs} jobs, the workflow {real_jobs}")
        (bare_wall, bare_cpu), (real_wall, real_cpu) = (
            [statistics.median(run[i] for run in runs[name]) for i in (0, 1)]
            for name in ("bare", "workflow")
        )
        print(
            f"{args.samples} samples ({real_jobs} jobs), median of {args.rounds} interleaved "
            f"rounds: workflow {real_wall:.1f} s wall / {real_cpu:.1f} s CPU, bare Snakefile "
            f"{bare_wall:.1f} s / {bare_cpu:.1f} s; ratio wall {real_wall / bare_wall:.2f}, "
            f"CPU {real_cpu / bare_cpu:.2f} (target <= 1.5)"
        )
        if args.large:
            large_sheet = make_inputs(wf, args.large)
            large_wall, large_cpu, large_jobs = dry_run(wf, "workflow/Snakefile", large_sheet)
            floor_wall, floor_cpu, _ = dry_run(wf, "Bare.smk", large_sheet)
            print(
                f"{args.large} samples ({large_jobs} jobs): workflow dry run {large_wall:.1f} s "
                f"wall / {large_cpu:.1f} s CPU (target < 60 s on 2 cores); bare Snakefile "
                f"{floor_wall:.1f} s / {floor_cpu:.1f} s"
            )


if __name__ == "__main__":
    main()
