rule bwa_index:
    """Index the reference once: `is` for small genomes, `bwtsw` with a block size of about a
    tenth of the genome for large ones (as bwa itself would pick, but with a faster -b).
    Reruns only when the reference changes. (Snakemake forbids `cache:` next to `benchmark:`,
    and every rule here has a benchmark.)"""
    input:
        config["reference"],
    output:
        multiext(INDEX, ".amb", ".ann", ".bwt", ".pac", ".sa"),
    log:
        f"logs/bwa_index/{GENOME}.log",
    benchmark:
        f"benchmarks/bwa_index/{GENOME}.tsv"
    # Every alignment waits for the index: start it before the QC jobs compete for the cores.
    priority: 10
    conda:
        "../envs/bwa.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: max(1024, int(reference_size_mb(input[0]) * 6)),
        runtime=lambda wildcards, input: max(30, int(reference_size_mb(input[0]) / 25)),
    params:
        prefix=lambda wildcards, output: output[0].removesuffix(".amb"),
        algorithm=lambda wildcards, input: (
            "bwtsw" if reference_size_mb(input[0]) > 50 else "is"
        ),
        block_size=lambda wildcards, input: max(
            10_000_000, int(reference_size_mb(input[0]) * 1e6 / 10)
        ),
    shell:
        "bwa index -a {params.algorithm} -b {params.block_size} -p {params.prefix:q} {input:q}"
        " > {log:q} 2>&1"
