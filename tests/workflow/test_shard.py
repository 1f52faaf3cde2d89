"""FASTQ sharding (split_fastq), run locally on real tools: every shard aligned as its own
bwa_mem job, the shards merged per sample with their unit's read group, the records those of
an unsharded run, and no shard file left behind. Only the BAMs are built (no FastQC, MultiQC).
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.workflow import TEST_DATA, copy_workflow, snakemake
from tests.workflow.helpers import read_groups, record_read_groups, samtools

SARSCOV2 = TEST_DATA / "sarscov2"


def records(bam: Path) -> list[tuple[str, ...]]:
    """Alignment records, sorted, each as its fields with the tags in a fixed order (a merge
    moves the RG tag to the end); headers and @PG lines differ between runs by design."""
    out = []
    for line in samtools("view", str(bam)).splitlines():
        fields = line.split("\t")
        out.append((*fields[:11], *sorted(fields[11:])))
    return sorted(out)


def equal_fraction(a: Path, b: Path) -> float:
    """Share of the records of `a` that `b` holds identically."""
    left, right = records(a), records(b)
    remaining: dict[tuple[str, ...], int] = {}
    for record in right:
        remaining[record] = remaining.get(record, 0) + 1
    equal = 0
    for record in left:
        if remaining.get(record, 0):
            remaining[record] -= 1
            equal += 1
    return equal / max(len(left), len(right))


def align(
    wf: Path,
    sheet: str,
    reference: str,
    target: str | list[str],
    *config: str,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run the workflow in `wf` for one sample's BAM (or several)."""
    (wf / "sheet.tsv").write_text(sheet)
    targets = [target] if isinstance(target, str) else target
    return snakemake(
        wf, "--cores", "2", *targets,
        "--config", "samples=sheet.tsv", f"reference={reference}", *config, check=check,
    )  # fmt: skip


def align_local_sars(wf: Path, split_fastq: int) -> subprocess.CompletedProcess:
    """The real reads, copied into `wf/data`, aligned in shards of `split_fastq`; may fail."""
    sheet = "sample\tunit\tfq1\tfq2\nsars\t1\tdata/test_1.fastq.gz\tdata/test_2.fastq.gz\n"
    target = "results/mapped/sars.bam"
    config = f"split_fastq={split_fastq}"
    return align(wf, sheet, "data/genome.fasta", target, config, check=False)


def shard_leftovers(wf: Path) -> list[Path]:
    """Shard FASTQs and shard/unit BAMs still on disk (the per-unit pair counts may stay)."""
    shards = wf / "results" / "shards"
    units = wf / "results" / "mapped" / "units"
    return [
        *(p for p in shards.rglob("*") if p.is_file() and p.suffix != ".pairs"),
        *(p for p in units.rglob("*") if p.is_file()),
    ]


@pytest.fixture(scope="module")
def sars(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The real SARS-CoV-2 reads (100 pairs, lengths 35 to 151) aligned unsharded and in
    shards of 25 pairs."""
    sheet = (
        f"sample\tunit\tfq1\tfq2\nsars\t1\t{SARSCOV2}/test_1.fastq.gz\t{SARSCOV2}/test_2.fastq.gz\n"
    )
    reference = f"{SARSCOV2}/genome.fasta"
    target = "results/mapped/sars.bam"
    base = tmp_path_factory.mktemp("shard-sars")
    whole, sharded = copy_workflow(base / "whole"), copy_workflow(base / "sharded")
    align(whole, sheet, reference, target)
    align(sharded, sheet, reference, target, "split_fastq=25")
    return whole, sharded


def test_real_reads_in_shards_align_as_in_one_piece(sars: tuple[Path, Path]) -> None:
    whole, sharded = sars
    bam = sharded / "results" / "mapped" / "sars.bam"
    assert int(samtools("view", "-c", "-F", "0x900", str(bam))) == 200
    assert equal_fraction(bam, whole / "results" / "mapped" / "sars.bam") >= 0.999
    # four shards, each its own bwa_mem job
    logs = sorted(p.name for p in (sharded / "logs" / "bwa_mem" / "sars" / "1").glob("*.log"))
    assert logs == ["001.log", "002.log", "003.log", "004.log"]
    assert read_groups(bam) == {"sars.1": "sars"}
    assert set(record_read_groups(bam)) == {"sars.1"}


def test_no_shard_file_is_left(sars: tuple[Path, Path]) -> None:
    _, sharded = sars
    assert (sharded / "results" / "shards" / "sars" / "1.pairs").read_text().split() == [
        "100",
        "7550",  # bwa -K: 25 pairs x 2 x 151 (the longest read): one batch per shard
    ]
    assert shard_leftovers(sharded) == []


def test_demo_units_in_shards_keep_their_read_groups_and_records(
    tmp_path: Path, demo_data: Path
) -> None:
    """Sample A has two lanes of 4,080 pairs of 2 x 150 (with PCR duplicates at the end):
    shards of 1,500 pairs (3 per lane), -K = 1,500 x 2 x 150. An unsharded run with that -K
    reads the same batches, so every record is the same, duplicate flags included."""
    sheet = (demo_data / "samples.tsv").read_text()
    reference = str(demo_data / "reference.fa")
    target = "results/mapped/A.bam"
    whole, sharded = copy_workflow(tmp_path / "whole"), copy_workflow(tmp_path / "sharded")
    align(whole, sheet, reference, target, "bwa_mem={extra: -K 450000}")
    align(sharded, sheet, reference, target, "split_fastq=1500")
    bam = sharded / "results" / "mapped" / "A.bam"
    assert records(bam) == records(whole / "results" / "mapped" / "A.bam")
    assert read_groups(bam) == {"A.L001": "A", "A.L002": "A"}
    assert record_read_groups(bam) == {"A.L001": 2 * 4080, "A.L002": 2 * 4080}
    assert int(samtools("view", "-c", "-f", "0x400", str(bam))) > 0
    for unit in ("L001", "L002"):
        assert len(list((sharded / "logs" / "bwa_mem" / "A" / unit).glob("*.log"))) == 3
    assert shard_leftovers(sharded) == []


def test_a_unit_over_the_shard_limit_fails_alone_and_a_fixed_rerun_works(tmp_path: Path) -> None:
    """split_fastq=1: sars (100 pairs) would need 100 shards, more than the 64 slots; its own
    split job fails with the advice while sample `small` (3 pairs, 3 shards) is aligned under
    keep-going; a rerun with a larger split_fastq aligns both."""
    wf = copy_workflow(tmp_path / "wf")
    shutil.copytree(SARSCOV2, wf / "data")
    for read in ("1", "2"):
        with gzip.open(SARSCOV2 / f"test_{read}.fastq.gz", "rt") as full:
            head = "".join(next(full) for _ in range(3 * 4))
        with gzip.open(wf / "data" / f"small_{read}.fastq.gz", "wt") as small:
            small.write(head)
    sheet = (
        "sample\tunit\tfq1\tfq2\n"
        "sars\t1\tdata/test_1.fastq.gz\tdata/test_2.fastq.gz\n"
        "small\t1\tdata/small_1.fastq.gz\tdata/small_2.fastq.gz\n"
    )
    targets = ["results/mapped/sars.bam", "results/mapped/small.bam"]
    proc = align(wf, sheet, "data/genome.fasta", targets, "split_fastq=1", check=False)
    assert proc.returncode != 0
    advice = (
        "Sample sars, unit 1: 100 read pairs make 100 shards of split_fastq=1, more than 64: "
        "set split_fastq to at least 2"
    )
    assert advice in (wf / "logs" / "split_fastq" / "sars" / "1.log").read_text()
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "InputFunctionException" not in proc.stdout + proc.stderr
    assert not (wf / "results" / "mapped" / "sars.bam").exists()
    small = wf / "results" / "mapped" / "small.bam"
    assert int(samtools("view", "-c", "-F", "0x900", str(small))) == 6
    assert len(list((wf / "logs" / "bwa_mem" / "small" / "1").glob("*.log"))) == 3

    align(wf, sheet, "data/genome.fasta", targets, "split_fastq=50")
    bam = wf / "results" / "mapped" / "sars.bam"
    assert int(samtools("view", "-c", "-F", "0x900", str(bam))) == 200
    assert (wf / "results" / "shards" / "sars" / "1.pairs").read_text().split()[0] == "100"
    assert shard_leftovers(wf) == []


def test_a_truncated_fastq_fails_in_the_count_naming_it(tmp_path: Path) -> None:
    """Every record is checked before the split: the error names the user's file, not a
    shard, and nothing is split."""
    wf = copy_workflow(tmp_path / "wf")
    shutil.copytree(SARSCOV2, wf / "data")
    r1 = wf / "data" / "test_1.fastq.gz"
    r1.write_bytes(r1.read_bytes()[:5000])
    proc = align_local_sars(wf, 25)
    assert proc.returncode != 0
    message = "ERROR: sample sars, unit 1: data/test_1.fastq.gz is truncated or not valid gzip"
    assert message in (wf / "logs" / "count_pairs" / "sars" / "1.log").read_text()
    assert message in proc.stdout + proc.stderr
    assert not (wf / "results" / "shards" / "sars" / "1").exists()
