"""Dry-run cost of the workflow at scale vs a bare Snakefile with the same jobs.

Run: python3 bench/dryrun_scale.py [--samples 1000] [--rounds 3] [--large 10000]
The bare Snakefile has as many jobs per FASTQ, per unit, per sample and in total as the
workflow (one unit per sample: FastQC twice, BWA-MEM, merge, markdup, stats, flagstat, mosdepth;
the index and MultiQC once), whose rules only touch their outputs and whose inputs come from
plain dicts: what is left of the ratio is the workflow's own planning cost (sheet checks,
input functions, params). Prints the median of interleaved rounds of `snakemake -n` on both,
their ratio (target <= 1.5 at 1,000 samples), and one dry run of the workflow on --large
samples (target: under a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fixtures.workflow import copy_workflow, write_fastq  # noqa: E402

# Per-sample rules of the workflow after alignment; keep in step with rules/*.smk.
PER_SAMPLE = ["merge", "markdup", "stats", "flagstat", "mosdepth"]

BARE = """
import csv
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

rule merge:
    input: lambda w: expand("bare/units/{{s}}/{{u}}.out", s=w.sample, u=UNITS[w.sample])
    output: "bare/merge/{{sample}}.out"
    shell: "touch {{output}}"

rule markdup:
    input: "bare/merge/{{sample}}.out"
    output: "bare/markdup/{{sample}}.out"
    shell: "touch {{output}}"

rule mosdepth:
    input: "bare/markdup/{{sample}}.out"
    output: "bare/mosdepth/{{sample}}.out"
    shell: "touch {{output}}"

rule stats:
    input: "bare/markdup/{{sample}}.out"
    output: "bare/stats/{{sample}}.out"
    shell: "touch {{output}}"

rule flagstat:
    input: "bare/markdup/{{sample}}.out"
    output: "bare/flagstat/{{sample}}.out"
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


def dry_run(wf: Path, snakefile: str, sheet: Path) -> tuple[float, int]:
    """(seconds, jobs planned) of one `snakemake -n`."""
    args = ["snakemake", "-n", "-s", snakefile, "--config", f"samples={sheet}"]
    args.append("reference=data/ref.fa")
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=wf, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    total = [line for line in proc.stdout.splitlines() if line.startswith("total")]
    return elapsed, int(total[-1].split()[1]) if total else -1


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
        bare, real = [], []
        for _ in range(args.rounds):
            bare_s, bare_jobs = dry_run(wf, "Bare.smk", sheet)
            real_s, real_jobs = dry_run(wf, "Snakefile", sheet)
            bare.append(bare_s)
            real.append(real_s)
        if bare_jobs != real_jobs:
            print(f"note: the bare Snakefile plans {bare_jobs} jobs, the workflow {real_jobs}")
        bare_m, real_m = statistics.median(bare), statistics.median(real)
        print(
            f"{args.samples} samples ({real_jobs} jobs), median of {args.rounds} interleaved "
            f"rounds: workflow {real_m:.1f} s, bare Snakefile {bare_m:.1f} s, "
            f"ratio {real_m / bare_m:.2f} (target <= 1.5)"
        )
        if args.large:
            large_sheet = make_inputs(wf, args.large)
            large_s, large_jobs = dry_run(wf, "Snakefile", large_sheet)
            print(
                f"{args.large} samples ({large_jobs} jobs): workflow dry run {large_s:.1f} s "
                "(target < 60 s on 2 cores)"
            )


if __name__ == "__main__":
    main()
