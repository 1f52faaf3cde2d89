"""Reading what the workflow produced: BAM facts through samtools, dry-run job counts."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path


def samtools(*args: str) -> str:
    return subprocess.run(["samtools", *args], check=True, capture_output=True, text=True).stdout


def mapped_fraction(bam: Path) -> float:
    """Mapped / all reads from the index (idxstats), so the BAM's .bai must be valid."""
    mapped = unmapped = 0
    for line in samtools("idxstats", str(bam)).splitlines():
        _, _, m, u = line.split("\t")
        mapped += int(m)
        unmapped += int(u)
    return mapped / (mapped + unmapped)


def read_groups(bam: Path) -> dict[str, str]:
    """Read-group ID -> SM from the header."""
    groups = {}
    for line in samtools("view", "-H", str(bam)).splitlines():
        if line.startswith("@RG"):
            fields = dict(f.split(":", 1) for f in line.split("\t")[1:])
            groups[fields["ID"]] = fields["SM"]
    return groups


def record_read_groups(bam: Path) -> dict[str, int]:
    """How many records carry each RG tag ('' for records without one)."""
    counts: dict[str, int] = {}
    for line in samtools("view", str(bam)).splitlines():
        match = re.search(r"\tRG:Z:([^\t]+)", line)
        key = match.group(1) if match else ""
        counts[key] = counts.get(key, 0) + 1
    return counts


def fastqc_filename(zip_path: Path) -> str:
    """The Filename line inside FastQC's data file: what MultiQC names the sample after."""
    with zipfile.ZipFile(zip_path) as archive:
        data = next(n for n in archive.namelist() if n.endswith("fastqc_data.txt"))
        for line in archive.read(data).decode().splitlines():
            if line.startswith("Filename"):
                return line.split("\t")[1]
    raise AssertionError(f"no Filename in {zip_path}")


def job_counts(output: str) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a (dry) run."""
    counts = {}
    table = output.split("Job stats:", 1)[1]
    for line in table.splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts
