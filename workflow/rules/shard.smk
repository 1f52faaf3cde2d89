"""FASTQ sharding (config `split_fastq`: read pairs per shard; 0 = off). Each unit's pair is
split into shards, every shard aligned by the same `bwa_mem` rule (under the aml profile: items
of the BWA-MEM parallel step) with the unit's read group, and the shard BAMs merged per sample
where unit BAMs are merged otherwise.

Snakemake must know a job's outputs before it runs, so the number of shards is counted first
(the checkpoint `count_pairs`, a few bytes per unit) and the split writes explicit per-shard
files into a fixed number of slots. No job reads a shard folder: each bwa_mem job declares (and
on Azure ML downloads) only its own two files, and every shard file is a temporary output that
Snakemake removes, locally and on the datastore, once its consumer is done. Included only
with split_fastq set; the lookups are in workflow/rules/shard_plan.smk.
"""


checkpoint count_pairs:
    """Pairs of one unit (and bwa mem's batch size for its shards), every record checked:
    the number of shards must be known before the DAG asks for them."""
    input:
        reads=unit_pair,
    output:
        pairs=PAIRS,
    log:
        "logs/count_pairs/{sample}/{unit}.log",
    benchmark:
        "benchmarks/count_pairs/{sample}/{unit}.tsv"
    conda:
        "../envs/seqkit.yaml"
    threads: 2
    resources:
        mem_mb=512,
        runtime=240,
    params:
        script=SCRIPTS / "count_pairs.sh",
        shard_pairs=SPLIT_FASTQ,
    shell:
        "bash {params.script:q} {wildcards.sample:q} {wildcards.unit:q} {input.reads:q}"
        " {params.shard_pairs} {output.pairs:q} {log:q}"


rule split_fastq:
    """One unit's pair into shards of split_fastq pairs (seqkit split2), into explicit
    per-shard files; the unused slots are empty, removed after the merge. A unit needing more
    shards than slots fails here, naming the split_fastq that works."""
    input:
        reads=unit_pair,
        pairs=PAIRS,
    output:
        shards=temp(
            [
                f"results/shards/{{sample}}/{{unit}}/{i:03d}_{read}.fastq.gz"
                for i in range(1, MAX_SHARDS + 1)
                for read in ("R1", "R2")
            ]
        ),
    log:
        "logs/split_fastq/{sample}/{unit}.log",
    benchmark:
        "benchmarks/split_fastq/{sample}/{unit}.tsv"
    conda:
        "../envs/seqkit.yaml"
    threads: 4
    resources:
        mem_mb=1024,
        runtime=240,
    params:
        script=SCRIPTS / "split_fastq.sh",
        shard_pairs=SPLIT_FASTQ,
    shell:
        "bash {params.script:q} {wildcards.sample:q} {wildcards.unit:q} {input.reads:q}"
        " {input.pairs:q} {params.shard_pairs} {threads} {log:q} {output.shards:q}"
