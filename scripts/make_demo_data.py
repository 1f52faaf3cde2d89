#!/usr/bin/env python3
"""Deterministic demo data: a random reference and paired reads simulated from it with wgsim.

The same arguments give byte-identical files (fixed seeds, gzip without timestamps), so a
second `make demo` leaves the workflow nothing to do. Writes a sample sheet (`--layout sheet`)
or Illumina-named files for folder discovery (`--layout illumina`).
"""

from __future__ import annotations

import argparse
import gzip
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

# sample -> units (lanes); A has two lanes so the merge step is exercised.
DEFAULT_UNITS = {"A": ["L001", "L002"], "B": ["L001"], "C": ["L001"]}
# One simulated pair in 50 is duplicated (2 %), so duplicate marking has known work to do.
DUPLICATE_EVERY = 50
WGSIM = ["-1", "150", "-2", "150", "-d", "350", "-s", "35", "-e", "0.002", "-r", "0.001"]


def write_reference(path: Path, size: int, seed: int) -> None:
    """Two contigs of random sequence (no repeats, so simulated reads map uniquely)."""
    rng = random.Random(seed)
    contigs = {"chr1": size * 3 // 5, "chr2": size - size * 3 // 5}
    with path.open("w") as out:
        for name, length in contigs.items():
            seq = "".join(rng.choices("ACGT", k=length))
            out.write(f">{name}\n")
            out.writelines(seq[i : i + 60] + "\n" for i in range(0, length, 60))


def gzip_file(src: Path, dest: Path) -> None:
    with src.open("rb") as raw, gzip.GzipFile(dest, "wb", mtime=0, compresslevel=6) as gz:
        shutil.copyfileobj(raw, gz, 1 << 20)


def add_duplicates(fastq: Path, every: int) -> None:
    """Append an exact copy of every `every`-th record, renamed `dup_<name>`: PCR duplicates
    with known names (the same pairs in R1 and R2, as wgsim writes mates in step)."""
    lines = fastq.read_text().splitlines(keepends=True)
    copies = []
    for start in range(0, len(lines), 4 * every):
        record = lines[start : start + 4]
        copies += ["@dup_" + record[0][1:], *record[1:]]
    with fastq.open("a") as out:
        out.writelines(copies)


def simulate_pair(
    reference: Path, pairs: int, seed: int, r1: Path, r2: Path, duplicate_every: int = 0
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t1, t2 = Path(tmp, "r1.fq"), Path(tmp, "r2.fq")
        subprocess.run(
            ["wgsim", "-S", str(seed), "-N", str(pairs), *WGSIM, str(reference), str(t1), str(t2)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for fastq in (t1, t2):
            if duplicate_every:
                add_duplicates(fastq, duplicate_every)
        gzip_file(t1, r1)
        gzip_file(t2, r2)


def make(
    outdir: Path,
    pairs: int,
    genome_size: int,
    layout: str,
    units: dict[str, list[str]] = DEFAULT_UNITS,
    reference: Path | None = None,
    duplicate_every: int = DUPLICATE_EVERY,
) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    reads = outdir / "reads"
    reads.mkdir(exist_ok=True)
    ref = outdir / "reference.fa"
    if reference is None:
        write_reference(ref, genome_size, seed=1)
    else:
        with gzip.open(reference, "rb") as src, ref.open("wb") as dest:
            shutil.copyfileobj(src, dest)
    rows = []
    seed = 11
    for sample, lanes in units.items():
        for number, lane in enumerate(lanes, start=1):
            if layout == "illumina":
                stem = f"{sample}_S{number}_{lane}"
                r1, r2 = reads / f"{stem}_R1_001.fastq.gz", reads / f"{stem}_R2_001.fastq.gz"
            else:
                r1, r2 = (reads / f"{sample}_{lane}_R{i}.fastq.gz" for i in (1, 2))
            simulate_pair(ref, pairs, seed, r1, r2, duplicate_every)
            seed += 1
            rows.append(f"{sample}\t{lane}\t{r1}\t{r2}\n")
    if layout == "sheet":
        (outdir / "samples.tsv").write_text("sample\tunit\tfq1\tfq2\n" + "".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--pairs", type=int, default=50_000, help="read pairs per unit")
    parser.add_argument("--genome-size", type=int, default=500_000)
    parser.add_argument("--layout", choices=["sheet", "illumina"], default="sheet")
    parser.add_argument(
        "--samples", type=int, default=0, help="N single-unit samples S1..SN instead of A, B, C"
    )
    parser.add_argument("--reference", type=Path, help="gzip FASTA to use instead of a random one")
    parser.add_argument(
        "--duplicate-every",
        type=int,
        default=DUPLICATE_EVERY,
        help="append a copy (named dup_...) of every N-th pair; 0: none",
    )
    args = parser.parse_args()
    units = (
        {f"S{i}": ["L001"] for i in range(1, args.samples + 1)} if args.samples else DEFAULT_UNITS
    )
    make(
        args.outdir,
        args.pairs,
        args.genome_size,
        args.layout,
        units,
        args.reference,
        args.duplicate_every,
    )
    print(f"demo data in {args.outdir}/")


if __name__ == "__main__":
    main()
