"""Sharding's plan (config `split_fastq`; the rules are in workflow/rules/shard.smk): how many shards
each unit has, which BAMs a sample's merge takes, what bwa_mem reads.
"""

import math

SPLIT_FASTQ = config["split_fastq"]
# Slots of one split job; a unit needing more shards fails its split job (raise split_fastq).
MAX_SHARDS = 64
SHARD_FASTQ = "results/shards/{sample}/{unit}/{shard}_{read}.fastq.gz"
PAIRS = "results/shards/{sample}/{unit}.pairs"
# What bwa_mem writes: a unit's BAM, or a shard's.
ALIGNED = (
    "results/mapped/units/{sample}/{unit}/{shard}"
    if SPLIT_FASTQ
    else "results/mapped/units/{sample}/{unit}"
)


wildcard_constraints:
    shard=r"\d{3}",


def shard_names(sample, unit):
    """The unit's shards (001, 002, ...), from its pair count once count_pairs has run. A
    unit needing more than MAX_SHARDS is planned with every slot and fails in its own
    split_fastq job, naming the split_fastq that works (raising here stops every sample).
    """
    pairs_file = checkpoints.count_pairs.get(sample=sample, unit=unit).output.pairs
    with pairs_file.open() as counted:
        pairs = int(counted.read().split()[0])
    shards = min(math.ceil(pairs / SPLIT_FASTQ), MAX_SHARDS)
    return [f"{i:03d}" for i in range(1, shards + 1)]


def sample_alignments(wildcards):
    """The BAMs (without .bam) merged into one sample's: one per unit, or per shard."""
    sample = wildcards.sample
    if not SPLIT_FASTQ:
        return [ALIGNED.format(sample=sample, unit=u) for u in sample_units(sample)]
    return [
        ALIGNED.format(sample=sample, unit=u, shard=s)
        for u in sample_units(sample)
        for s in shard_names(sample, u)
    ]


def unused_slots(wildcards):
    """The empty shard slots of a sample's units. Declared as the merge's input (not read)
    only so that remote jobs store them and the main process then removes them: a temp
    output nobody consumes is never stored by a remote job (Snakemake's
    --unneeded-temp-files), while the main process still expects it in storage."""
    if not SPLIT_FASTQ:
        return []
    sample = wildcards.sample
    return [
        SHARD_FASTQ.format(sample=sample, unit=u, shard=f"{i:03d}", read=read)
        for u in sample_units(sample)
        for i in range(len(shard_names(sample, u)) + 1, MAX_SHARDS + 1)
        for read in ("R1", "R2")
    ]


def alignment_input(wildcards):
    """bwa_mem's reads: the unit's pair, or one shard's pair and the unit's counts (bwa -K)."""
    if not SPLIT_FASTQ:
        return {"reads": unit_pair(wildcards)}
    sample, unit, shard = wildcards.sample, wildcards.unit, wildcards.shard
    return {
        "reads": [
            SHARD_FASTQ.format(sample=sample, unit=unit, shard=shard, read=read)
            for read in ("R1", "R2")
        ],
        "pairs": PAIRS.format(sample=sample, unit=unit),
    }
