"""The whole workflow, run locally on real tools: generated reads with known truth, and real
SARS-CoV-2 reads. One run per module; the tests read what it left."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fixtures.workflow import TEST_DATA, copy_workflow, snakemake
from tests.workflow.helpers import (
    fastqc_filename,
    job_counts,
    mapped_fraction,
    read_groups,
    record_read_groups,
    samtools,
)

UNITS = {"A": ["L001", "L002"], "B": ["L001"], "C": ["L001"]}
# 4,000 simulated pairs per unit plus the demo generator's copy of every 50th (PCR duplicates).
SIMULATED_PAIRS = 4000
DUPLICATE_EVERY = 50
PAIRS_PER_UNIT = SIMULATED_PAIRS + SIMULATED_PAIRS // DUPLICATE_EVERY


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, demo_data: Path) -> Path:
    wf = copy_workflow(tmp_path_factory.mktemp("local") / "wf")
    (wf / "ref").mkdir()
    shutil.copy(demo_data / "reference.fa", wf / "ref" / "genome.fa")
    args = ["--config", f"samples={demo_data}/samples.tsv", "reference=ref/genome.fa"]
    (wf / "args").write_text("\n".join(args))
    snakemake(wf, "--cores", "2", *args)
    return wf


def run_args(wf: Path) -> list[str]:
    return (wf / "args").read_text().splitlines()


@pytest.mark.parametrize("sample", UNITS)
def test_bam_is_sorted_indexed_and_mapped(run: Path, sample: str) -> None:
    bam = run / "results" / "mapped" / f"{sample}.bam"
    samtools("quickcheck", str(bam))
    assert "SO:coordinate" in samtools("view", "-H", str(bam)).splitlines()[0]
    assert (run / "results" / "mapped" / f"{sample}.bam.bai").stat().st_size > 0
    total = int(samtools("view", "-c", str(bam)))
    assert total == 2 * PAIRS_PER_UNIT * len(UNITS[sample])
    assert mapped_fraction(bam) > 0.9


@pytest.mark.parametrize("sample", UNITS)
def test_every_record_has_the_read_group_of_its_unit(run: Path, sample: str) -> None:
    bam = run / "results" / "mapped" / f"{sample}.bam"
    expected = {f"{sample}.{unit}": sample for unit in UNITS[sample]}
    assert read_groups(bam) == expected
    per_group = record_read_groups(bam)
    assert set(per_group) == set(expected), "records without a read group or with a foreign one"
    assert all(n == 2 * PAIRS_PER_UNIT for n in per_group.values())


def test_fastqc_reports_are_named_after_sample_unit_and_read(run: Path) -> None:
    reports = run / "results" / "qc" / "fastqc"
    for sample, units in UNITS.items():
        for unit in units:
            for read in ("R1", "R2"):
                zip_path = reports / sample / f"{sample}_{unit}_{read}_fastqc.zip"
                assert fastqc_filename(zip_path) == f"{sample}_{unit}_{read}.fastq.gz"


def test_multiqc_report_lists_every_sample(run: Path) -> None:
    stats = run / "results" / "qc" / "multiqc_report_data" / "multiqc_general_stats.txt"
    names = {line.split("\t")[0] for line in stats.read_text().splitlines()[1:]}
    fastqc_names = {f"{s}_{u}_{r}" for s, us in UNITS.items() for u in us for r in ("R1", "R2")}
    assert names == set(UNITS) | fastqc_names
    html = (run / "results" / "qc" / "multiqc_report.html").read_text()
    assert all(name in html for name in names)


def test_only_the_final_bams_are_left_and_no_sam_is_written(run: Path) -> None:
    """Unit BAMs are temporary, and no merged BAM is written before duplicate marking."""
    assert not list((run / "results").rglob("*.sam"))
    mapped = run / "results" / "mapped"
    files = {str(p.relative_to(mapped)) for p in mapped.rglob("*") if p.is_file()}
    assert files == {f"{s}.bam{ext}" for s in UNITS for ext in ("", ".bai")}


@pytest.mark.parametrize("sample", UNITS)
def test_pcr_duplicates_are_marked(run: Path, sample: str) -> None:
    """Of each pair the generator copied (dup_<name>), exactly one of the two is marked,
    both mates; the rest of the reads are barely touched (random coincidences only)."""
    bam = run / "results" / "mapped" / f"{sample}.bam"
    marked = [
        line.split("\t", 1)[0] for line in samtools("view", "-f", "0x400", str(bam)).splitlines()
    ]
    copies = {name.removeprefix("dup_") for name in samtools_names(bam) if name.startswith("dup_")}
    assert len(copies) == SIMULATED_PAIRS // DUPLICATE_EVERY * len(UNITS[sample])
    for original in copies:
        assert sorted(n for n in marked if n in (original, f"dup_{original}")) in (
            [original, original],
            [f"dup_{original}", f"dup_{original}"],
        ), original
    assert len(marked) <= 2 * len(copies) * 1.05


def samtools_names(bam: Path) -> set[str]:
    return {line.split("\t", 1)[0] for line in samtools("view", str(bam)).splitlines()}


def test_multiqc_duplicate_rate_matches_flagstat(run: Path) -> None:
    data = run / "results" / "qc" / "multiqc_report_data" / "multiqc_samtools_markdup.txt"
    rows = [line.split("\t") for line in data.read_text().splitlines()]
    table = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert set(table) == set(UNITS)
    for sample, row in table.items():
        flagstat = (run / "results" / "qc" / "samtools" / f"{sample}.flagstat.txt").read_text()
        duplicates = int(
            next(line for line in flagstat.splitlines() if "duplicates" in line).split()[0]
        )
        total = int(flagstat.split()[0])
        assert int(row["duplicate_total"]) == duplicates > 0
        assert float(row["duplicate_fraction"]) == pytest.approx(duplicates / total, rel=1e-6)


def test_coverage_per_sample_in_the_report(run: Path) -> None:
    stats = run / "results" / "qc" / "multiqc_report_data" / "multiqc_general_stats.txt"
    rows = [line.split("\t") for line in stats.read_text().splitlines()]
    table = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    for sample in UNITS:
        summary = run / "results" / "qc" / "mosdepth" / f"{sample}.mosdepth.summary.txt"
        total = next(line for line in summary.read_text().splitlines() if line.startswith("total"))
        mean = float(total.split("\t")[3])
        # 2 x 150 bases per pair over a 100 kb genome, duplicates not counted
        expected = 2 * 150 * SIMULATED_PAIRS * len(UNITS[sample]) / 100_000
        assert mean == pytest.approx(expected, rel=0.1)
        assert float(table[sample]["mosdepth-mean_coverage"]) == pytest.approx(mean, abs=0.01)


def test_every_job_left_a_log_and_a_benchmark(run: Path) -> None:
    logs = {p.relative_to(run / "logs").parts[0] for p in (run / "logs").rglob("*.log")}
    benchmarks = {
        p.relative_to(run / "benchmarks").parts[0] for p in (run / "benchmarks").rglob("*.tsv")
    }
    rules = {
        "bwa_index",
        "bwa_mem",
        "samtools_markdup",
        "mosdepth",
        "fastqc",
        "samtools_stats",
    }
    assert rules <= logs and rules <= benchmarks
    assert (run / "logs" / "multiqc.log").exists()


def test_without_duplicate_marking_the_merged_bam_is_final(run: Path, tmp_path: Path) -> None:
    """mark_duplicates: false: units merged (A) or one unit linked (B) into the final BAM,
    nothing flagged, the alignments those of the marked run."""
    wf = copy_workflow(tmp_path / "wf")
    shutil.copytree(run / "ref", wf / "ref")
    targets = [f"results/mapped/{s}.bam" for s in ("A", "B")]
    snakemake(wf, *targets, "--cores", "2", *run_args(run), "mark_duplicates=False")
    for sample in ("A", "B"):
        bam, marked = wf / "results" / "mapped" / f"{sample}.bam", run / "results" / "mapped"
        samtools("quickcheck", str(bam))
        assert (wf / "results" / "mapped" / f"{sample}.bam.bai").stat().st_size > 0
        assert samtools("view", "-c", "-f", "0x400", str(bam)).strip() == "0"
        assert record_read_groups(bam) == {
            f"{sample}.{u}": 2 * PAIRS_PER_UNIT for u in UNITS[sample]
        }
        assert alignments(bam) == alignments(marked / f"{sample}.bam")
    assert (wf / "logs" / "samtools_merge" / "B.log").read_text().startswith("single input")
    assert not (wf / "logs" / "samtools_markdup").exists()


def alignments(bam: Path) -> set[tuple[str, ...]]:
    """Name, flag without the duplicate bit, reference and position of every record."""
    rows = (line.split("\t", 4)[:4] for line in samtools("view", str(bam)).splitlines())
    return {(name, str(int(flag) & ~0x400), ref, pos) for name, flag, ref, pos in rows}


def test_second_run_has_nothing_to_do(run: Path) -> None:
    proc = snakemake(run, "--cores", "2", *run_args(run))
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_changed_reference_reruns_index_and_alignments_but_not_fastqc(run: Path) -> None:
    with (run / "ref" / "genome.fa").open("a") as ref:
        ref.write(">extra\n" + "ACGTTGCA" * 50 + "\n")
    proc = snakemake(run, "-n", "--cores", "2", *run_args(run))
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts.pop("bwa_index") == 1
    assert counts.pop("bwa_mem") == 4
    assert counts.pop("samtools_markdup") == 3
    assert counts.pop("mosdepth") == 3
    assert counts.pop("samtools_stats") == 3
    assert counts.pop("multiqc") == counts.pop("all") == 1
    assert counts == {}, f"unexpected reruns: {counts}"


def test_real_sarscov2_reads(tmp_path: Path) -> None:
    wf = copy_workflow(tmp_path / "wf")
    data = TEST_DATA / "sarscov2"
    (wf / "sheet.tsv").write_text(
        "sample\tunit\tfq1\tfq2\n"
        f"ERR5069949\trun1\t{data}/test_1.fastq.gz\t{data}/test_2.fastq.gz\n"
    )
    snakemake(wf, "--cores", "2", "--config", "samples=sheet.tsv", f"reference={data}/genome.fasta")
    bam = wf / "results" / "mapped" / "ERR5069949.bam"
    samtools("quickcheck", str(bam))
    assert int(samtools("view", "-c", "-F", "0x900", str(bam))) == 200
    assert mapped_fraction(bam) > 0.9
    assert read_groups(bam) == {"ERR5069949.run1": "ERR5069949"}
    assert set(record_read_groups(bam)) == {"ERR5069949.run1"}
    html = (wf / "results" / "qc" / "multiqc_report.html").read_text()
    assert "ERR5069949_run1_R1" in html and "ERR5069949" in html
