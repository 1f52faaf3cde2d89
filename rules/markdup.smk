rule samtools_markdup:
    """Duplicates marked (flag 0x400, not removed) per sample, after its units are merged:
    duplicates of one library sequenced on several lanes are found across lanes. The mate
    tags it needs come from `samtools fixmate -m` in the alignment pipe."""
    input:
        bam="results/mapped/merged/{sample}.bam",
        # Not read, but declared: a temp output nobody consumes is never stored by a remote
        # job (Snakemake's --unneeded-temp-files), while the main process still expects it.
        bai="results/mapped/merged/{sample}.bam.bai",
    output:
        bam="results/mapped/{sample}.bam",
        bai="results/mapped/{sample}.bam.bai",
        metrics="results/qc/samtools/{sample}.markdup.txt",
    log:
        "logs/samtools_markdup/{sample}.log",
    benchmark:
        "benchmarks/samtools_markdup/{sample}.tsv"
    conda:
        "../envs/samtools.yaml"
    threads: 2
    resources:
        mem_mb=2048,
        runtime=120,
    shell:
        "samtools markdup -@ {threads} -f {output.metrics:q}"
        " -T {resources.tmpdir:q}/{wildcards.sample:q}.markdup"
        " --write-index {input.bam:q} {output.bam:q}##idx##{output.bai:q} 2> {log:q}"
