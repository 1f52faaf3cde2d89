"""Bad input fails with an error that names the file or sample, before any job runs where the
sheet or the file names reveal it, and leaves nothing half-written. Data errors that only the
tools can see fail that sample's job; with keep-going the other samples still finish."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.workflow import git_track, snakemake, write_fastq
from tests.workflow.helpers import fails_before_any_job, pair, sheet, storage_dry_run


@pytest.mark.parametrize("present", ["R1", "R2"])
def test_folder_file_without_its_mate(workflow: Path, present: str) -> None:
    pair(workflow, "ok")
    lone = workflow / "fq" / f"lone_{present}.fastq.gz"
    write_fastq(lone, ["r1"])
    out = fails_before_any_job(workflow, "reads_dir=fq")
    absent = "R2" if present == "R1" else "R1"
    assert f"lone_{present}.fastq.gz has no matching {absent}" in out


def test_duplicate_sample_unit(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    out = fails_before_any_job(
        workflow, sheet(workflow, [("s1", "u1", fq1, fq2), ("s1", "u1", fq1, fq2)])
    )
    assert "sample 's1' lists unit 'u1' more than once" in out


def test_listed_file_missing(workflow: Path) -> None:
    fq1, _ = pair(workflow, "a")
    out = fails_before_any_job(workflow, sheet(workflow, [("s1", "u1", fq1, "fq/nope.fq.gz")]))
    assert "Sample sheet sheet.tsv, line 2, column fq2: file not found: fq/nope.fq.gz" in out


@pytest.mark.parametrize(
    "name", ["a b", "x;touch pwned", "$(touch pwned)", "a/b", "it's", '"q"', "`touch pwned`"]
)
def test_unsafe_sample_names_are_rejected(workflow: Path, name: str) -> None:
    fq1, fq2 = pair(workflow, "a")
    out = fails_before_any_job(workflow, sheet(workflow, [(name, "u1", fq1, fq2)]))
    assert "column sample: sample" in out
    assert "may only contain ASCII letters, digits" in out
    assert not (workflow / "pwned").exists()


def test_unsafe_unit_name_is_rejected(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    out = fails_before_any_job(workflow, sheet(workflow, [("s1", "u 1;rm", fq1, fq2)]))
    assert "line 2, column unit: unit 'u 1;rm' may only contain" in out


def test_reference_missing(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    out = fails_before_any_job(
        workflow, sheet(workflow, [("s1", "u1", fq1, fq2)]), "reference=nope.fa"
    )
    assert "Reference genome not found: nope.fa" in out


def test_reference_not_fasta(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    (workflow / "ref.fa").write_text("this is not a genome\n")
    out = fails_before_any_job(workflow, sheet(workflow, [("s1", "u1", fq1, fq2)]))
    assert "Reference genome ref.fa is not FASTA" in out


def test_empty_fastq(workflow: Path) -> None:
    fq1, _ = pair(workflow, "a")
    with gzip.open(workflow / "fq" / "empty.fastq.gz", "wb"):
        pass
    out = fails_before_any_job(workflow, sheet(workflow, [("s1", "u1", fq1, "fq/empty.fastq.gz")]))
    assert "line 2, column fq2: fq/empty.fastq.gz is empty" in out


def test_sheet_missing(workflow: Path) -> None:
    out = fails_before_any_job(workflow, "samples=nope.tsv")
    assert "Sample sheet not found: nope.tsv" in out


def rename_reads(src: Path, dest: Path) -> None:
    with gzip.open(src, "rt") as fin, gzip.open(dest, "wt") as fout:
        for i, line in enumerate(fin):
            fout.write(f"@renamed{i}\n" if i % 4 == 0 else line)


def first_reads(src: Path, dest: Path, n: int) -> None:
    with gzip.open(src, "rt") as fin, gzip.open(dest, "wt") as fout:
        for i, line in enumerate(fin):
            if i >= 4 * n:
                break
            fout.write(line)


def test_broken_pairs_fail_their_job_and_leave_no_bam(workflow: Path, demo_data: Path) -> None:
    """Truncated gzip, R1/R2 of different lengths, R1/R2 with different names: each job fails
    with its reason, no BAM of it remains, and the good sample completes (keep-going)."""
    reads = demo_data / "reads"
    bad = workflow / "bad"
    bad.mkdir()
    data = (reads / "B_L001_R1.fastq.gz").read_bytes()
    (bad / "trunc_R1.fastq.gz").write_bytes(data[: len(data) // 2])
    first_reads(reads / "C_L001_R2.fastq.gz", bad / "short_R2.fastq.gz", 1000)
    rename_reads(reads / "C_L001_R2.fastq.gz", bad / "renamed_R2.fastq.gz")
    shutil.copy(demo_data / "reference.fa", workflow / "ref.fa")
    rows = [
        ("good", "1", f"{reads}/A_L001_R1.fastq.gz", f"{reads}/A_L001_R2.fastq.gz"),
        ("trunc", "1", f"{bad}/trunc_R1.fastq.gz", f"{reads}/B_L001_R2.fastq.gz"),
        ("short", "1", f"{reads}/C_L001_R1.fastq.gz", f"{bad}/short_R2.fastq.gz"),
        ("renamed", "1", f"{reads}/C_L001_R1.fastq.gz", f"{bad}/renamed_R2.fastq.gz"),
    ]
    # C_L001_R1 is read by two samples on purpose.
    config = [sheet(workflow, rows), "reference=ref.fa", "allow_shared_fastq=True"]
    proc = snakemake(workflow, "--cores", "2", "--config", *config, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    mapped = workflow / "results" / "mapped"
    subprocess.run(["samtools", "quickcheck", str(mapped / "good.bam")], check=True)
    for sample in ("trunc", "short", "renamed"):
        assert not (mapped / f"{sample}.bam").exists()
        assert not list(mapped.glob(f"units/{sample}/*"))
        assert "Error in rule bwa_mem" in out
    log = lambda s: (workflow / "logs" / "bwa_mem" / s / "1.log").read_text()  # noqa: E731
    assert "trunc_R1.fastq.gz is truncated or not valid gzip" in log("trunc")
    assert "hold different numbers of reads" in log("short")
    assert "paired reads have different names" in log("renamed")
    # FastQC refuses the truncated file too, with its own clear error.
    assert (
        "FastQC could not read" in (workflow / "logs" / "fastqc" / "trunc" / "1_R1.log").read_text()
    )


def test_remote_jobs_need_a_git_tracked_sheet(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    proc = storage_dry_run(workflow, sheet(workflow, [("a", "1", fq1, fq2)]))
    assert proc.returncode != 0
    assert "Sample sheet sheet.tsv must be inside the working directory and tracked by git" in (
        proc.stdout + proc.stderr
    )
    proc = storage_dry_run(workflow, "reads_dir=fq")
    assert proc.returncode != 0
    assert "reads_dir works for local runs only" in proc.stdout + proc.stderr


def test_remote_jobs_need_the_scripts_tracked(workflow: Path) -> None:
    """The rules run scripts/*.sh: remote jobs would fail one by one without them."""
    fq1, fq2 = pair(workflow, "a")
    config = sheet(workflow, [("a", "1", fq1, fq2)])
    subprocess.run(["git", "init", "-q"], cwd=workflow, check=True)
    subprocess.run(["git", "add", "Snakefile", "rules", "sheet.tsv"], cwd=workflow, check=True)
    proc = storage_dry_run(workflow, config)
    assert proc.returncode != 0
    assert "The workflow's scripts must be tracked by git (git add scripts/bwa_mem.sh" in (
        proc.stdout + proc.stderr
    )


def test_remote_inputs_outside_the_working_directory(workflow: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    write_fastq(outside / "x_R1.fastq.gz", ["r1"])
    write_fastq(outside / "x_R2.fastq.gz", ["r1"])
    rows = [("x", "1", "../elsewhere/x_R1.fastq.gz", "../elsewhere/x_R2.fastq.gz")]
    config = sheet(workflow, rows)
    git_track(workflow, "sheet.tsv")
    proc = storage_dry_run(workflow, config)
    assert proc.returncode != 0
    assert (
        "../elsewhere/x_R1.fastq.gz lies outside the working directory" in proc.stdout + proc.stderr
    )
