rule mosdepth:
    """Coverage per sample (whole-genome summary and cumulative distribution, no per-base
    track) for MultiQC; duplicates (0x400) and unmapped reads are not counted."""
    input:
        bam="results/mapped/{sample}.bam",
        bai="results/mapped/{sample}.bam.bai",
    output:
        summary="results/qc/mosdepth/{sample}.mosdepth.summary.txt",
        dist="results/qc/mosdepth/{sample}.mosdepth.global.dist.txt",
    log:
        "logs/mosdepth/{sample}.log",
    benchmark:
        "benchmarks/mosdepth/{sample}.tsv"
    conda:
        "../envs/mosdepth.yaml"
    threads: 2
    resources:
        mem_mb=2048,
        runtime=60,
    params:
        prefix=lambda wildcards, output: output.summary.removesuffix(
            ".mosdepth.summary.txt"
        ),
        extra=shell_words("mosdepth.extra", config["mosdepth"]["extra"]),
    shell:
        "mosdepth --threads {threads} --no-per-base {params.extra}"
        " {params.prefix:q} {input.bam:q} > {log:q} 2>&1"
