"""Bad input fails with an error that names the file or sample, before any job runs where the
sheet or the file names reveal it, and leaves nothing half-written. Data errors that only the
tools can see fail that sample's job; with keep-going the other samples still finish."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.workflow import git_track, snakemake, write_fastq
from tests.workflow.helpers import (
    REFERENCE,
    fails_before_any_job,
    fails_planning,
    job_counts,
    pair,
    sheet,
    storage_dry_run,
)


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
    """The rules run workflow/scripts/*.sh: remote jobs would fail one by one without them."""
    fq1, fq2 = pair(workflow, "a")
    config = sheet(workflow, [("a", "1", fq1, fq2)])
    subprocess.run(["git", "init", "-q"], cwd=workflow, check=True)
    subprocess.run(
        ["git", "add", "workflow/Snakefile", "workflow/rules", "sheet.tsv"],
        cwd=workflow,
        check=True,
    )
    proc = storage_dry_run(workflow, config)
    assert proc.returncode != 0
    assert "The workflow's scripts must be tracked by git (git add workflow/scripts/bwa_mem.sh" in (
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


# --- Issue 20, 2: every FASTQ of a reads folder is used or named ---------------------------


def write_reads(folder: Path, *names: str) -> None:
    folder.mkdir(exist_ok=True)
    for name in names:
        write_fastq(folder / name, [f"{name}.{i}" for i in range(2)])


def test_bcl2fastq_chunks_become_units_of_their_sample(workflow: Path) -> None:
    """A_S1_L001_R1_002 and its R2 used to be ignored: exit 0 with half the reads."""
    chunks = [f"A_S1_L001_{r}_{c}.fastq.gz" for r in ("R1", "R2") for c in ("001", "002")]
    write_reads(workflow / "fq", *chunks, "A_S1_L002_R1_001.fastq.gz", "A_S1_L002_R2_001.fastq.gz")
    (workflow / "ref.fa").write_text(REFERENCE)
    proc = snakemake(workflow, "-n", "--config", "reads_dir=fq", "reference=ref.fa")
    out = proc.stdout + proc.stderr
    counts = job_counts(out)
    assert counts["bwa_mem"] == 3 and counts["samtools_markdup"] == 1
    for unit in ("L001_001", "L001_002", "L002"):
        assert f"results/qc/fastqc/A/A_{unit}_R1_fastqc.zip" in out
        assert f"results/mapped/units/A/{unit}.bam" in out


def test_chunk_sets_of_r1_and_r2_that_differ_are_refused(workflow: Path) -> None:
    write_reads(
        workflow / "fq",
        "A_S1_L001_R1_001.fastq.gz",
        "A_S1_L001_R1_002.fastq.gz",
        "A_S1_L001_R2_001.fastq.gz",
    )
    out = fails_planning(workflow, "reads_dir=fq")
    assert (
        "fq/A_S1_L001_R1_002.fastq.gz has no matching R2 file in fq "
        "(R1 chunks 001, 002; R2 chunks 001)"
    ) in out


@pytest.mark.parametrize(
    "stray", ["A_S1_L001_I1_001.fastq.gz", "notes.fq", "A_R1.FASTQ.GZ", "A_S1_L001_R1.001.fastq.gz"]
)
def test_a_fastq_not_named_as_a_read_of_a_pair_is_refused(workflow: Path, stray: str) -> None:
    write_reads(workflow / "fq", "A_S1_L001_R1_001.fastq.gz", "A_S1_L001_R2_001.fastq.gz", stray)
    out = fails_planning(workflow, "reads_dir=fq")
    assert f"Reads folder fq: fq/{stray} is not named as one read of a pair" in out


def test_one_read_in_two_files_is_refused(workflow: Path) -> None:
    write_reads(workflow / "fq", "A_R1.fastq.gz", "A_R1_001.fastq.gz", "A_R2.fastq.gz")
    out = fails_planning(workflow, "reads_dir=fq")
    assert (
        "Reads folder fq: fq/A_R1.fastq.gz and fq/A_R1_001.fastq.gz are both R1 of A (chunk 001)"
        in out
    )


# --- Issue 20, 6: config keys and values ---------------------------------------------------


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            "refernce=other.fa",
            "Config key 'refernce' is unknown (did you mean 'reference'?); the keys are "
            "samples, reads_dir, reference, platform,",
        ),
        (
            "bwa_mem={'extr': '-M'}",
            "Config key 'bwa_mem.extr' is unknown (did you mean 'bwa_mem.extra'?); the keys are "
            "bwa_mem.extra, bwa_mem.sort_mem_fraction",
        ),
        ("colour=red", "Config key 'colour' is unknown; the keys are samples,"),
    ],
)
def test_an_unknown_config_key_is_refused(workflow: Path, item: str, message: str) -> None:
    fq1, fq2 = pair(workflow, "a")
    out = fails_planning(workflow, sheet(workflow, [("s1", "u1", fq1, fq2)]), item)
    assert message in out


@pytest.mark.parametrize("value", ["1e3", "1000.0", "True"])
def test_an_integer_setting_must_be_written_in_digits(workflow: Path, value: str) -> None:
    """split_fastq=1e3 passed the schema (as 1000.0) and failed in a shell script."""
    fq1, fq2 = pair(workflow, "a")
    out = fails_planning(
        workflow, sheet(workflow, [("s1", "u1", fq1, fq2)]), f"split_fastq={value}"
    )
    assert "Config split_fastq: " in out
    assert "must be a whole number written in digits (1000, not 1e3 or 1000.0)" in out


# --- Issue 20, 6: reference records and its index -----------------------------------------


@pytest.mark.parametrize(
    ("fasta", "message"),
    [
        (">\nACGT\n", "record 1 has no name (a '>' line with nothing after it)"),
        (">chr1\nACGT\n> \nACGT\n", "record 2 has no name"),
        (">*\nACGT\n", "record 1 is named '*'; SAM contig names cannot start with '*' or '='"),
        (">chr1\nACGT\n>chr2 empty\n>chr3\nACGT\n", "record 2 ('chr2') holds no sequence"),
        (">chr1\nACGT\n>chr2\n", "record 2 ('chr2') holds no sequence"),
    ],
)
def test_a_reference_record_bwa_would_index_into_a_bad_header(
    workflow: Path, fasta: str, message: str
) -> None:
    fq1, fq2 = pair(workflow, "a")
    (workflow / "bad.fa").write_text(fasta)
    out = fails_planning(workflow, sheet(workflow, [("s", "1", fq1, fq2)]), "reference=bad.fa")
    assert f"Reference genome bad.fa {message}" in out


def test_a_stale_fai_does_not_hide_duplicate_contigs(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    contig = "ACGT" * 50 + "\n"
    (workflow / "dup.fa").write_text(f">chr1\n{contig}>chr1\n{contig}")
    (workflow / "dup.fa.fai").write_text("chr1\t200\t6\t200\t201\nchr2\t200\t213\t200\t201\n")
    out = fails_planning(workflow, sheet(workflow, [("s", "1", fq1, fq2)]), "reference=dup.fa")
    assert "Reference genome dup.fa has the contig name 'chr1' more than once (records 1, 2)" in out


@pytest.mark.parametrize(
    ("fai", "message"),
    [
        ("chrA\t400\t6\t400\t401\n", "contig 1 is 'chr1' of 400 bases in the FASTA, 'chrA' of 400"),
        ("chr1\t300\t6\t300\t301\n", "contig 1 is 'chr1' of 400 bases in the FASTA, 'chr1' of 300"),
        ("chr1\t400\t6\t400\t401\nchr2\t5\t413\t5\t6\n", "1 contigs in the FASTA, 2 in"),
    ],
)
def test_a_fai_that_does_not_match_the_reference_is_named(
    workflow: Path, fai: str, message: str
) -> None:
    fq1, fq2 = pair(workflow, "a")
    (workflow / "ref.fa").write_text(REFERENCE)
    (workflow / "ref.fa.fai").write_text(fai)
    out = fails_planning(workflow, sheet(workflow, [("s", "1", fq1, fq2)]))
    assert f"Reference genome ref.fa does not match its index ref.fa.fai: {message}" in out
    assert "delete the index or rebuild it (samtools faidx)" in out


def test_a_fai_that_matches_the_reference_is_accepted(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    (workflow / "ref.fa").write_text(REFERENCE)
    subprocess.run(["samtools", "faidx", "ref.fa"], cwd=workflow, check=True)
    config = sheet(workflow, [("s", "1", fq1, fq2)])
    proc = snakemake(workflow, "-n", "--config", config, "reference=ref.fa")
    assert job_counts(proc.stdout + proc.stderr)["bwa_mem"] == 1


# --- Issue 20, 6: sheet lines end at \n or \r\n only ---------------------------------------


@pytest.mark.parametrize(
    ("char", "name"),
    [
        ("\f", "U+000C (form feed)"),
        ("\v", "U+000B (vertical tab)"),
        ("\x85", "U+0085 (next line (NEL))"),
        ("\u2028", "U+2028 (line separator)"),
        ("\x1c", "U+001C (a control character)"),
        ("\r", "U+000D (carriage return)"),
    ],
)
def test_a_control_character_in_a_sheet_is_refused_naming_its_line(
    workflow: Path, char: str, name: str
) -> None:
    """str.splitlines split such a line in two: the line numbers after it were off by one and
    the cut row was reported as missing a cell."""
    fq1, fq2 = pair(workflow, "a")
    g1, g2 = pair(workflow, "b")
    text = f"sample\tunit\tfq1\tfq2\n# a comment\na\t1\t{fq1}\t{fq2}\nb\t1\t{g1}{char}\t{g2}\n"
    (workflow / "sheet.tsv").write_text(text, encoding="utf-8", newline="")
    out = fails_planning(workflow, "samples=sheet.tsv")
    assert f"Sample sheet sheet.tsv, line 4: {name} in the line" in out


def test_a_sheet_with_crlf_line_ends_is_read(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    (workflow / "sheet.tsv").write_bytes(
        f"sample\tunit\tfq1\tfq2\r\na\t1\t{fq1}\t{fq2}\r\n".encode()
    )
    (workflow / "ref.fa").write_text(REFERENCE)
    proc = snakemake(workflow, "-n", "--config", "samples=sheet.tsv", "reference=ref.fa")
    assert job_counts(proc.stdout + proc.stderr)["bwa_mem"] == 1


# --- Issue 20, 6: FASTQ first records and what a path is -----------------------------------


def write_one_record(path: Path, name: str = "r1", qual: str = "IIII") -> None:
    with gzip.open(path, "wt") as out:
        out.write(f"@{name}\nACGT\n+\n{qual}\n")


@pytest.mark.parametrize(
    ("name", "qual", "message"),
    [
        (
            "r1",
            "II I",
            "has the quality character ' ' (byte 0x20); quality characters are '!' to '~'",
        ),
        ("r1", "II\x7fI", "has the quality character '\\x7f' (byte 0x7f)"),
        ("r" * 255, "IIII", "has a read name of 255 characters; SAM allows 254"),
    ],
)
def test_a_first_record_samtools_would_refuse_is_named(
    workflow: Path, name: str, qual: str, message: str
) -> None:
    fq1, _ = pair(workflow, "a")
    write_one_record(workflow / "fq" / "bad.fq.gz", name, qual)
    out = fails_planning(workflow, sheet(workflow, [("s", "1", fq1, "fq/bad.fq.gz")]))
    assert f"line 2, column fq2: fq/bad.fq.gz is not FASTQ: record 1 (line 1) {message}" in out


def test_a_read_name_of_254_characters_is_accepted(workflow: Path) -> None:
    fq1, _ = pair(workflow, "a")
    write_one_record(workflow / "fq" / "long.fq.gz", "r" * 254 + " a comment")
    (workflow / "ref.fa").write_text(REFERENCE)
    config = sheet(workflow, [("s", "1", fq1, "fq/long.fq.gz")])
    proc = snakemake(workflow, "-n", "--config", config, "reference=ref.fa")
    assert job_counts(proc.stdout + proc.stderr)["bwa_mem"] == 1


def compressed(kind: str, data: bytes) -> bytes:
    if kind == "zstd" and not shutil.which("zstd"):
        pytest.skip("no zstd command")
    command = {"bzip2": ["bzip2", "-c"], "xz": ["xz", "-c"], "zstd": ["zstd", "-c", "-q"]}[kind]
    return subprocess.run(command, input=data, capture_output=True, check=True).stdout


@pytest.mark.parametrize("kind", ["bzip2", "zstd", "xz"])
def test_a_fastq_compressed_otherwise_than_gzip_is_named(workflow: Path, kind: str) -> None:
    fq1, fq2 = pair(workflow, "a")
    (workflow / "fq" / "x.fq.gz").write_bytes(
        compressed(kind, gzip.decompress((workflow / fq2).read_bytes()))
    )
    out = fails_planning(workflow, sheet(workflow, [("s", "1", fq1, "fq/x.fq.gz")]))
    assert (
        f"line 2, column fq2: fq/x.fq.gz is compressed with {kind}, which the tools do not read: "
        f"recompress it with gzip ({kind} -dc FILE | gzip > FILE.gz)"
    ) in out


def test_a_reference_compressed_with_bzip2_is_named(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    (workflow / "ref.fa.bz2").write_bytes(compressed("bzip2", REFERENCE.encode()))
    out = fails_planning(workflow, sheet(workflow, [("s", "1", fq1, fq2)]), "reference=ref.fa.bz2")
    assert "Reference genome ref.fa.bz2 is compressed with bzip2" in out


def test_a_directory_or_a_fifo_is_named_as_such(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    (workflow / "fq" / "dir_R2.fastq.gz").mkdir()
    os.mkfifo(workflow / "fq" / "pipe.fq")
    out = fails_planning(workflow, sheet(workflow, [("s", "1", fq1, "fq/dir_R2.fastq.gz")]))
    assert "line 2, column fq2: fq/dir_R2.fastq.gz is a directory, not a file" in out
    out = fails_planning(workflow, sheet(workflow, [("s", "1", fq1, "fq/pipe.fq")]))
    assert "line 2, column fq2: fq/pipe.fq is a named pipe (FIFO), not a regular file" in out
    out = fails_planning(workflow, sheet(workflow, [("s", "1", fq1, fq2)]), "reference=fq")
    assert "Reference genome fq is a directory, not a file" in out
