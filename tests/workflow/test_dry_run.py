"""Dry runs (`snakemake -n`) build the right DAG from each kind of input, offline."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.workflow import snakemake, write_fastq
from tests.workflow.helpers import REFERENCE, job_counts


def write_pairs(folder: Path, stems: list[str], suffix: str = ".fastq.gz") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        for read in ("R1", "R2"):
            name = stem.replace("{read}", read)
            write_fastq(folder / f"{name}{suffix}", [f"{stem}.{i}" for i in range(2)])


def dry_run(wf: Path, *config: str) -> dict[str, int]:
    (wf / "ref.fa").write_text(REFERENCE)
    proc = snakemake(wf, "-n", "--config", "reference=ref.fa", *config)
    return job_counts(proc.stdout + proc.stderr)


def test_sheet_with_several_units_per_sample(workflow: Path) -> None:
    write_pairs(workflow / "reads", ["a1_{read}", "a2_{read}", "b_{read}"])
    (workflow / "sheet.tsv").write_text(
        "sample\tunit\tfq1\tfq2\tlibrary\n"
        "a\tlane1\treads/a1_R1.fastq.gz\treads/a1_R2.fastq.gz\tlibA\n"
        "a\tlane2\treads/a2_R1.fastq.gz\treads/a2_R2.fastq.gz\tlibA\n"
        "b\tlane1\treads/b_R1.fastq.gz\treads/b_R2.fastq.gz\t\n"
    )
    counts = dry_run(workflow, "samples=sheet.tsv")
    assert counts == {
        "bwa_index": 1,
        "fastqc": 6,
        "bwa_mem": 3,
        "samtools_markdup": 2,
        "samtools_stats": 2,
        "mosdepth": 2,
        "multiqc": 1,
        "all": 1,
    }


def test_mark_duplicates_off_leaves_the_merged_bam_final(workflow: Path) -> None:
    write_pairs(workflow / "reads", ["a_{read}"])
    (workflow / "sheet.tsv").write_text(
        "sample\tunit\tfq1\tfq2\na\tl1\treads/a_R1.fastq.gz\treads/a_R2.fastq.gz\n"
    )
    counts = dry_run(workflow, "samples=sheet.tsv", "mark_duplicates=False")
    assert "samtools_markdup" not in counts
    assert counts["samtools_merge"] == counts["mosdepth"] == 1


def test_folder_discovery_with_illumina_names_and_lanes(workflow: Path) -> None:
    write_pairs(
        workflow / "fq",
        ["s1_S1_L001_{read}_001", "s1_S1_L002_{read}_001", "s2_S2_L001_{read}_001", "plain_{read}"],
    )
    counts = dry_run(workflow, "reads_dir=fq")
    assert counts["bwa_mem"] == 4
    assert counts["samtools_markdup"] == 3  # s1 (two lanes), s2, plain
    assert counts["fastqc"] == 8


def test_uncompressed_fastq_and_gzip_reference(workflow: Path) -> None:
    import gzip

    write_pairs(workflow / "fq", ["x_{read}"], suffix=".fastq")
    with gzip.open(workflow / "ref.fa.gz", "wt") as ref:
        ref.write(REFERENCE)
    proc = snakemake(workflow, "-n", "--config", "reads_dir=fq", "reference=ref.fa.gz")
    assert job_counts(proc.stdout + proc.stderr)["bwa_mem"] == 1


def test_500_samples(workflow: Path) -> None:
    names = [f"sample{i:03d}" for i in range(500)]
    write_pairs(workflow / "reads", [f"{n}_{{read}}" for n in names])
    rows = "".join(f"{n}\t1\treads/{n}_R1.fastq.gz\treads/{n}_R2.fastq.gz\n" for n in names)
    (workflow / "sheet.tsv").write_text("sample\tunit\tfq1\tfq2\n" + rows)
    counts = dry_run(workflow, "samples=sheet.tsv")
    assert counts["bwa_mem"] == counts["samtools_markdup"] == 500
    assert counts["fastqc"] == 1000
    assert counts["bwa_index"] == counts["multiqc"] == 1
