"""Inputs for the workflow (sheets, pairs, a tiny reference, runs that must fail early) and
reading what it produced: BAM facts through samtools, dry-run job counts."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

from tests.fixtures.workflow import snakemake, write_fastq

REFERENCE = ">chr1\n" + "ACGT" * 100 + "\n"
COLUMNS = ("sample", "unit", "fq1", "fq2")


def sheet(wf: Path, rows: list[tuple[str, ...]], columns: tuple[str, ...] = COLUMNS) -> str:
    """Write sheet.tsv (UTF-8) and return the --config item that selects it."""
    lines = ["\t".join(columns)] + ["\t".join(r) for r in rows]
    (wf / "sheet.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return "samples=sheet.tsv"


def pair(wf: Path, stem: str) -> tuple[str, str]:
    """fq/{stem}_R1.fastq.gz and _R2 with three reads each, as paths relative to `wf`."""
    (wf / "fq").mkdir(exist_ok=True)
    paths = []
    for read in ("R1", "R2"):
        path = wf / "fq" / f"{stem}_{read}.fastq.gz"
        write_fastq(path, [f"{stem}.{i}" for i in range(3)])
        paths.append(str(path.relative_to(wf)))
    return paths[0], paths[1]


def fails_before_any_job(wf: Path, *config: str) -> str:
    """Run for real (not -n): the error must come before any job starts."""
    if not (wf / "ref.fa").exists():
        (wf / "ref.fa").write_text(REFERENCE)
    args = ["--cores", "1", "--config", *config]
    if not any(c.startswith("reference=") for c in config):
        args.append("reference=ref.fa")
    proc = snakemake(wf, *args, check=False)
    assert proc.returncode != 0
    assert not (wf / "results").exists(), "a job ran despite bad input"
    return proc.stdout + proc.stderr


def fails_planning(wf: Path, *config: str) -> str:
    """A dry run that must fail while the workflow is read (checks of the config, the sheet
    and the first records), not later: faster than `fails_before_any_job` for such checks."""
    if not (wf / "ref.fa").exists():
        (wf / "ref.fa").write_text(REFERENCE)
    args = ["-n", "--config", *config]
    if not any(c.startswith("reference=") for c in config):
        args.append("reference=ref.fa")
    proc = snakemake(wf, *args, check=False)
    assert proc.returncode != 0, proc.stdout[-2000:]
    return proc.stdout + proc.stderr


CLOSED_ACCOUNT = "http://127.0.0.1:9/devstoreaccount1"


def storage_dry_run(
    wf: Path, *config: str, account_url: str = CLOSED_ACCOUNT, container: str = "closed"
) -> subprocess.CompletedProcess[str]:
    """A dry run with data in a default storage, as under the aml profile. With the default
    account (a closed port) it can only succeed or fail in the Snakefile, before any storage
    request."""
    (wf / "ref.fa").write_text(REFERENCE)
    return snakemake(
        wf, "-n",
        "--default-storage-provider", "azureml",
        "--default-storage-prefix", "azureml://datastores/workspaceblobstore/paths/run",
        "--storage-azureml-account-url", account_url,
        "--storage-azureml-container", container,
        "--config", "reference=ref.fa", *config,
        check=False,
    )  # fmt: skip


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
