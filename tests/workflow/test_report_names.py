"""The MultiQC report keeps every sample of the sheet under its own name (issue 20, item 4).
MultiQC's default name cleaning cut A.trimmed, A.sorted, A_ and A.stats back to A, so the
report's row A showed another sample's numbers and the others were gone. A real run with
such samples, each with its own read count: every row of the report's data is a sample of
the sheet (or one of its FastQC reports) with that sample's numbers. Sample B's unit A_1 makes
a FastQC report named like A's (A_1_R1_fastqc.zip), which MultiQC skipped as already read."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.fixtures.workflow import copy_workflow, snakemake, write_fastq
from tests.workflow.helpers import REFERENCE, sheet

# Read pairs per sample (one unit each): the numbers tell the rows apart.
UNITS = {"A": "1", "A.trimmed": "1", "A.sorted": "1", "A_": "1", "A.stats": "1", "B": "A_1"}
PAIRS = {"A": 2, "A.trimmed": 3, "A.sorted": 4, "A_": 5, "A.stats": 6, "B": 7}
REPORTS = {f"{s}_{UNITS[s]}_{read}": pairs for s, pairs in PAIRS.items() for read in ("R1", "R2")}


@pytest.fixture(scope="module")
def report_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wf = copy_workflow(tmp_path_factory.mktemp("report-names") / "wf")
    (wf / "ref.fa").write_text(REFERENCE)
    (wf / "fq").mkdir()
    rows = []
    for i, (sample, pairs) in enumerate(PAIRS.items()):
        paths = []
        for read in ("R1", "R2"):
            path = f"fq/s{i}_{read}.fastq.gz"
            write_fastq(wf / path, [f"s{i}.{n}" for n in range(pairs)])
            paths.append(path)
        rows.append((sample, UNITS[sample], *paths))
    snakemake(wf, "--cores", "2", "--config", sheet(wf, rows), "reference=ref.fa")
    return wf / "results" / "qc" / "multiqc_report_data"


def table(path: Path) -> dict[str, dict[str, str]]:
    """A MultiQC data table: sample -> column -> value."""
    with path.open() as handle:
        return {row["Sample"]: row for row in csv.DictReader(handle, delimiter="\t")}


def test_general_statistics_has_one_row_per_sample_and_fastqc_report(report_data: Path) -> None:
    rows = set(table(report_data / "multiqc_general_stats.txt"))
    assert rows == set(PAIRS) | set(REPORTS)


@pytest.mark.parametrize(
    ("data", "column", "per_pair"),
    [
        ("multiqc_samtools_stats.txt", "raw_total_sequences", 2),
        ("multiqc_samtools_flagstat.txt", "total_passed", 2),
        ("multiqc_samtools_markdup.txt", "read", 2),
    ],
)
def test_each_sample_row_shows_its_own_numbers(
    report_data: Path, data: str, column: str, per_pair: int
) -> None:
    numbers = {s: float(row[column]) for s, row in table(report_data / data).items()}
    assert numbers == {s: per_pair * pairs for s, pairs in PAIRS.items()}


def test_each_fastqc_report_shows_its_own_reads(report_data: Path) -> None:
    totals = {
        s: float(row["Total Sequences"])
        for s, row in table(report_data / "multiqc_fastqc.txt").items()
    }
    assert totals == REPORTS


def test_coverage_rows_are_the_samples(report_data: Path) -> None:
    general = table(report_data / "multiqc_general_stats.txt")
    covered = {
        s for s, row in general.items() if any("mosdepth" in c and v for c, v in row.items())
    }
    assert covered == set(PAIRS)
