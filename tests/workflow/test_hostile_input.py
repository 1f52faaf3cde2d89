"""Inputs that cannot hurt (issue 13): hostile and careless sample sheets, references and reads
folders. Each test reproduces one way such input did harm (ran a command, deleted another
sample's BAM, ended green with a wrong result, or said something unhelpful)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from tests.fixtures.workflow import TEST_DATA, copy_workflow, git_track, snakemake, write_fastq
from tests.workflow.helpers import (
    COLUMNS,
    REFERENCE,
    fails_before_any_job,
    fastqc_filename,
    job_counts,
    mapped_fraction,
    pair,
    samtools,
    sheet,
    storage_dry_run,
)

SARS = TEST_DATA / "sarscov2"
# A space, quotes, '$', a command substitution, backticks, braces, '#', '%' and non-ASCII letters.
HOSTILE = 'in/it\'s a "$(touch PWNED)" `touch PWNED` {x y} #1 %20 ünï $HOME'
# Without a quote to break the unquoted command first: the old rules ran this `touch`.
INJECTION = "in/a$(touch PWNED)"


# --- 1 (injection), 6 (gzip by content in FastQC) and special characters: one real run ----


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real SARS-CoV-2 reads: sample `hostile` under HOSTILE file names (the reference too),
    `injection` under INJECTION names, and `misnamed` with plain FASTQ named .fastq.gz (R1)
    and gzip named .fastq (R2)."""
    wf = copy_workflow(tmp_path_factory.mktemp("hostile") / "wf")
    (wf / "in").mkdir()
    shutil.copy(SARS / "test_1.fastq.gz", wf / f"{HOSTILE}_1.fq.gz")
    shutil.copy(SARS / "test_2.fastq.gz", wf / f"{HOSTILE}_2.fq.gz")
    # Not HOSTILE: Snakemake reads --config values as YAML, where " #" starts a comment.
    reference = HOSTILE.replace(" #1", "") + ".fasta"
    shutil.copy(SARS / "genome.fasta", wf / reference)
    shutil.copy(SARS / "test_1.fastq.gz", wf / f"{INJECTION}_1.fq.gz")
    shutil.copy(SARS / "test_2.fastq.gz", wf / f"{INJECTION}_2.fq.gz")
    with gzip.open(SARS / "test_1.fastq.gz") as plain:
        (wf / "in" / "plain_1.fastq.gz").write_bytes(plain.read())
    shutil.copy(SARS / "test_2.fastq.gz", wf / "in" / "gzip_2.fastq")
    rows = [
        ("hostile", "1", f"{HOSTILE}_1.fq.gz", f"{HOSTILE}_2.fq.gz"),
        ("injection", "1", f"{INJECTION}_1.fq.gz", f"{INJECTION}_2.fq.gz"),
        ("misnamed", "1", "in/plain_1.fastq.gz", "in/gzip_2.fastq"),
    ]
    config = sheet(wf, rows)
    # A config value with shell code in it: MultiQC must get it as one literal title.
    title = "multiqc={'extra': \"--title '$(touch PWNED)'\"}"
    snakemake(wf, "--cores", "2", "--config", config, f"reference={reference}", title)
    return wf


def test_file_names_never_run_as_commands(hostile_run: Path) -> None:
    samtools("quickcheck", str(hostile_run / "results" / "mapped" / "injection.bam"))
    assert not list(hostile_run.rglob("PWNED*"))
    assert not Path("PWNED").exists()
    html = (hostile_run / "results" / "qc" / "multiqc_report.html").read_text()
    assert "$(touch PWNED)" in html


def test_special_characters_in_paths_run_green(hostile_run: Path) -> None:
    bam = hostile_run / "results" / "mapped" / "hostile.bam"
    samtools("quickcheck", str(bam))
    assert int(samtools("view", "-c", "-F", "0x900", str(bam))) == 200
    assert mapped_fraction(bam) > 0.9


def test_fastqc_decides_compression_by_content(hostile_run: Path) -> None:
    reports = hostile_run / "results" / "qc" / "fastqc" / "misnamed"
    assert fastqc_filename(reports / "misnamed_1_R1_fastqc.zip") == "misnamed_1_R1.fastq"
    assert fastqc_filename(reports / "misnamed_1_R2_fastqc.zip") == "misnamed_1_R2.fastq.gz"
    html = (hostile_run / "results" / "qc" / "multiqc_report.html").read_text()
    assert "misnamed_1_R1" in html and "misnamed_1_R2" in html


# --- 2: names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "name"),
    [("sample", "."), ("sample", ".."), ("sample", ".hidden"), ("unit", ".."), ("library", ".")],
)
def test_dot_names_are_refused(workflow: Path, name: str, column: str) -> None:
    """Sample `..` with unit `L1` used to turn its temporary unit BAM into sample L1's BAM."""
    fq1, fq2 = pair(workflow, "a")
    g1, g2 = pair(workflow, "b")
    values = {"sample": "s", "unit": "L1", "library": "lib", column: name}
    rows = [
        (values["sample"], values["unit"], fq1, fq2, values["library"]),
        ("L1", "1", g1, g2, ""),
    ]
    out = fails_before_any_job(workflow, sheet(workflow, rows, (*COLUMNS, "library")))
    assert f"Sample sheet sheet.tsv, line 2, column {column}: {column} {name!r} may only" in out
    assert "must start with a letter or a digit" in out


def test_names_are_ascii(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    out = fails_before_any_job(workflow, sheet(workflow, [("café", "1", fq1, fq2)]))
    assert "column sample: sample 'café' may only contain ASCII letters, digits" in out


def test_sample_names_differing_only_in_case_are_refused(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    g1, g2 = pair(workflow, "b")
    out = fails_before_any_job(
        workflow, sheet(workflow, [("A", "1", fq1, fq2), ("a", "1", g1, g2)])
    )
    assert "line 3: samples 'A' and 'a' differ only in case" in out


# --- 3 and 8: files compared by identity, each used once -------------------------------------


@pytest.mark.parametrize("spelling", ["./fq/a_R1.fastq.gz", "fq/link.fastq.gz"])
def test_fq1_and_fq2_the_same_file_under_two_spellings(workflow: Path, spelling: str) -> None:
    fq1, _ = pair(workflow, "a")
    (workflow / "fq" / "link.fastq.gz").symlink_to("a_R1.fastq.gz")
    out = fails_before_any_job(workflow, sheet(workflow, [("s", "1", fq1, spelling)]))
    assert f"line 2: fq1 {fq1} and fq2 {spelling} are the same file" in out


@pytest.mark.parametrize("second", [("s2", "1"), ("s1", "2")], ids=["two-samples", "one-sample"])
def test_a_fastq_listed_twice_is_refused(workflow: Path, second: tuple[str, str]) -> None:
    fq1, fq2 = pair(workflow, "a")
    _, g2 = pair(workflow, "b")
    rows = [("s1", "1", fq1, fq2), (*second, f"./{fq1}", g2)]
    out = fails_before_any_job(workflow, sheet(workflow, rows))
    assert (
        f"Sample sheet sheet.tsv, line 3, column fq1: ./{fq1} is the same file as {fq1} "
        "(Sample sheet sheet.tsv, line 2, column fq1)"
    ) in out
    assert "allow_shared_fastq: true" in out


def test_a_shared_fastq_is_accepted_when_intended(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    _, g2 = pair(workflow, "b")
    (workflow / "ref.fa").write_text(REFERENCE)
    config = sheet(workflow, [("s1", "1", fq1, fq2), ("s2", "1", fq1, g2)])
    proc = snakemake(
        workflow, "-n", "--config", config, "reference=ref.fa", "allow_shared_fastq=True"
    )
    assert job_counts(proc.stdout + proc.stderr)["bwa_mem"] == 2


def test_pairs_in_a_sub_folder_are_reported(workflow: Path) -> None:
    pair(workflow, "top")
    (workflow / "fq" / "run2").mkdir()
    write_fastq(workflow / "fq" / "run2" / "deep_R1.fastq.gz", ["r"])
    write_fastq(workflow / "fq" / "run2" / "deep_R2.fastq.gz", ["r"])
    out = fails_before_any_job(workflow, "reads_dir=fq")
    assert "Reads folder fq: fq/run2/deep_R1.fastq.gz is in a sub-folder" in out


# --- 4: every FASTQ record is checked in the job that reads it -----------------------------


def write_records(path: Path, n: int, bad: int | None = None) -> None:
    """n gzip records of 100 bases; record `bad` (1-based) has its quality line cut short."""
    with gzip.open(path, "wt") as out:
        for i in range(1, n + 1):
            qual = "I" * (90 if i == bad else 100)
            out.write(f"@r{i}\n{'ACGT' * 25}\n+\n{qual}\n")


def test_a_malformed_record_fails_the_job_naming_file_and_record(workflow: Path) -> None:
    """A record cut short at the end of both files used to be dropped silently (exit 0); in the
    middle of one file it was reported as 'different numbers of reads'."""
    (workflow / "in").mkdir()
    write_records(workflow / "in" / "last_1.fq.gz", 20, bad=20)
    write_records(workflow / "in" / "last_2.fq.gz", 20, bad=20)
    write_records(workflow / "in" / "mid_1.fq.gz", 20, bad=7)
    write_records(workflow / "in" / "mid_2.fq.gz", 20)
    (workflow / "ref.fa").write_text(REFERENCE)
    rows = [
        ("last", "1", "in/last_1.fq.gz", "in/last_2.fq.gz"),
        ("mid", "1", "in/mid_1.fq.gz", "in/mid_2.fq.gz"),
    ]
    targets = ["results/mapped/last.bam", "results/mapped/mid.bam"]
    config = ["--config", sheet(workflow, rows), "reference=ref.fa"]
    proc = snakemake(workflow, "--cores", "2", *targets, *config, check=False)
    assert proc.returncode != 0
    log = lambda s: (workflow / "logs" / "bwa_mem" / s / "1.log").read_text()  # noqa: E731
    assert "in/last_1.fq.gz: record 20 (line 77) has 90 quality characters for 100 bases" in log(
        "last"
    )
    assert "in/mid_1.fq.gz: record 7 (line 25) has 90 quality characters" in log("mid")
    assert "different numbers of reads" not in log("mid")
    assert not list((workflow / "results" / "mapped").rglob("*.bam"))


# --- 5 and 7: the reference, checked before any job ----------------------------------------

SPIKE = (
    "MFVFLVLLPLVSSQCVNLTTRTQLPPAYTNSFTRGVYYPDKVFRSSVLHSTQDLFLPFFSNVTWFHAIHVSGTNGTKRFDNPVLPFN"
    "DGVYFASTEKSNIIRGWIFGTTLDSKTQSLLIVNNATNVVIKVCEFQFCNDPFLGVYYHKNNKSWMESEFRVYSSANNCTFEYVSQ"
)


def test_a_protein_reference_is_refused(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    (workflow / "spike.fa").write_text(f">sp|P0DTC2|SPIKE_SARS2\n{SPIKE}\n")
    out = fails_before_any_job(
        workflow, sheet(workflow, [("s", "1", fq1, fq2)]), "reference=spike.fa"
    )
    assert "Reference genome spike.fa is not nucleotide sequence" in out
    assert "(a protein FASTA?)" in out


def test_duplicate_contig_names_are_refused(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    contig = "ACGT" * 50 + "\n"
    (workflow / "dup.fa").write_text(f">chr1\n{contig}>chr2 x\n{contig}>chr1 again\n{contig}")
    out = fails_before_any_job(
        workflow, sheet(workflow, [("s", "1", fq1, fq2)]), "reference=dup.fa"
    )
    assert "Reference genome dup.fa has the contig name 'chr1' more than once (records 1, 3)" in out


# --- 9: sheet messages name the sheet, the line and the column -----------------------------


def test_a_missing_fq2_is_one_line_naming_sheet_line_and_column(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    g1, _ = pair(workflow, "b")
    (workflow / "sheet.tsv").write_text(
        f"sample\tunit\tfq1\tfq2\n# a comment\na\t1\t{fq1}\t{fq2}\nb\t1\t{g1}\n"
    )
    out = fails_before_any_job(workflow, "samples=sheet.tsv")
    assert (
        "Sample sheet sheet.tsv, line 4, column fq2: empty; every row needs sample, unit, fq1, fq2"
        in out
    )
    assert "row 0" not in out and "Failed validating" not in out


@pytest.mark.parametrize("encoding", ["utf-16", "latin-1"])
def test_a_sheet_not_in_utf8_is_refused_by_name(workflow: Path, encoding: str) -> None:
    fq1, fq2 = pair(workflow, "a")
    text = f"sample\tunit\tfq1\tfq2\na\t1\t{fq1}\t{fq2}\nb\t1\tfq/é_R1.fq.gz\tfq/é_R2.fq.gz\n"
    (workflow / "sheet.tsv").write_bytes(text.encode(encoding))
    out = fails_before_any_job(workflow, "samples=sheet.tsv")
    expected = {
        "utf-16": "Sample sheet sheet.tsv, line 1: the file is UTF-16; save it as UTF-8 text",
        "latin-1": "Sample sheet sheet.tsv, line 3: byte 0xe9 is not UTF-8",
    }
    assert expected[encoding] in out


def test_a_cell_too_many_is_named_as_such(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    out = fails_before_any_job(workflow, sheet(workflow, [("a", "1", fq1, fq2, "extra")]))
    assert "Sample sheet sheet.tsv, line 2: 5 cells but 4 columns in the header" in out


def test_an_unknown_column_lists_the_known_ones(workflow: Path) -> None:
    fq1, fq2 = pair(workflow, "a")
    config = sheet(workflow, [("a", "1", fq1, fq2, "ILLUMINA")], (*COLUMNS, "platfrom"))
    out = fails_before_any_job(workflow, config)
    assert (
        "Sample sheet sheet.tsv, line 1: unknown column 'platfrom'; the columns are sample, "
        "unit, fq1, fq2, library, platform"
    ) in out


def test_a_hash_inside_a_value_is_kept(workflow: Path) -> None:
    (workflow / "fq").mkdir()
    for read in ("R1", "R2"):
        write_fastq(workflow / "fq" / f"run#2_{read}.fastq.gz", ["r1", "r2"])
    (workflow / "ref.fa").write_text(REFERENCE)
    config = sheet(workflow, [("a", "1", "fq/run#2_R1.fastq.gz", "fq/run#2_R2.fastq.gz")])
    proc = snakemake(workflow, "-n", "--config", config, "reference=ref.fa")
    assert job_counts(proc.stdout + proc.stderr)["bwa_mem"] == 1


def test_braces_around_a_word_are_refused_as_a_wildcard(workflow: Path) -> None:
    (workflow / "fq").mkdir()
    for read in ("R1", "R2"):
        write_fastq(workflow / "fq" / f"a{{x}}_{read}.fastq.gz", ["r1"])
    rows = [("a", "1", "fq/a{x}_R1.fastq.gz", "fq/a{x}_R2.fastq.gz")]
    out = fails_before_any_job(workflow, sheet(workflow, rows))
    assert "line 2, column fq1: fq/a{x}_R1.fastq.gz contains {x}, which Snakemake reads as a" in out


# --- Under the aml storage: which file names a datastore path can hold ----------------------


def test_storage_refuses_a_backslash_up_front(workflow: Path) -> None:
    (workflow / "in").mkdir()
    for read in ("1", "2"):
        write_fastq(workflow / "in" / f"a\\b_{read}.fq.gz", ["r1"])
    config = sheet(workflow, [("a", "1", "in/a\\b_1.fq.gz", "in/a\\b_2.fq.gz")])
    git_track(workflow, "sheet.tsv")
    proc = storage_dry_run(workflow, config)
    assert proc.returncode != 0
    assert (
        "Sample sheet sheet.tsv, line 2, column fq1: cannot be stored under azureml: path "
        "'run/in/a\\\\b_1.fq.gz' contains a backslash or a control character"
    ) in proc.stdout + proc.stderr


def test_storage_accepts_spaces_quotes_dollars_and_braces(
    workflow: Path, azurite, storage_container: str, storage_key_env: None
) -> None:
    (workflow / "in").mkdir()
    for read in ("1", "2"):
        write_fastq(workflow / f"{HOSTILE}_{read}.fq.gz", ["r1"])
    config = sheet(workflow, [("a", "1", f"{HOSTILE}_1.fq.gz", f"{HOSTILE}_2.fq.gz")])
    git_track(workflow, "sheet.tsv")
    proc = storage_dry_run(
        workflow, config, account_url=azurite.blob_endpoint, container=storage_container
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert job_counts(proc.stdout + proc.stderr)["bwa_mem"] == 1
    assert not list(workflow.rglob("PWNED*"))
