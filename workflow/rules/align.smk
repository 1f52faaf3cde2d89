rule bwa_mem:
    """Align one read pair and sort it in the same pipe: no SAM on disk. bwa gets most threads,
    samtools sort the rest (it mostly buffers until bwa is done); sort memory is per thread.
    """
    input:
        unpack(alignment_input),
        index=rules.bwa_index.output,
    output:
        bam=temp(f"{ALIGNED}.bam"),
        bai=temp(f"{ALIGNED}.bam.bai"),
    log:
        ALIGNED.replace("results/mapped/units", "logs/bwa_mem") + ".log",
    benchmark:
        ALIGNED.replace("results/mapped/units", "benchmarks/bwa_mem") + ".tsv"
    conda:
        "../envs/bwa.yaml"
    threads: 8
    resources:
        mem_mb=8000,
        runtime=240,
    params:
        script=SCRIPTS / "bwa_mem.sh",
        index=lambda wildcards, input: input.index[0].removesuffix(".amb"),
        read_group=read_group,
        # errors name the shard; the unit's read group stays
        unit="{unit}, shard {shard}" if SPLIT_FASTQ else "{unit}",
        # a shard is a whole number of bwa batches (-K from count_pairs; README "Sharding")
        batch=(lambda wildcards, input: input.pairs) if SPLIT_FASTQ else "-",
        extra=shell_words("bwa_mem.extra", config["bwa_mem"]["extra"]),
        mark_duplicates="true" if MARK_DUPLICATES else "false",
        bwa_threads=lambda wildcards, threads: threads - threads // 4,
        sort_threads=lambda wildcards, threads: threads // 4,
        sort_mem=lambda wildcards, threads, resources: max(
            64,
            int(resources.mem_mb * config["bwa_mem"]["sort_mem_fraction"])
            // (threads // 4 + 1),
        ),
    shell:
        # Every FASTQ record is checked on its way to bwa; see the script.
        "bash {params.script:q} {wildcards.sample:q} {params.unit:q} {input.reads:q}"
        " {params.index:q} {params.read_group:q} {params.bwa_threads} {params.sort_threads}"
        " {params.sort_mem} {resources.tmpdir:q} {output.bam:q} {output.bai:q} {log:q}"
        " {params.mark_duplicates} {params.batch:q} {params.extra}"
