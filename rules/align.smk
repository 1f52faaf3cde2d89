rule bwa_mem:
    """Align one read pair and sort it in the same pipe: no SAM on disk. bwa gets most threads,
    samtools sort the rest (it mostly buffers until bwa is done); sort memory is per thread.
    """
    input:
        reads=unit_pair,
        index=rules.bwa_index.output,
    output:
        bam=temp("results/mapped/units/{sample}/{unit}.bam"),
        bai=temp("results/mapped/units/{sample}/{unit}.bam.bai"),
    log:
        "logs/bwa_mem/{sample}/{unit}.log",
    benchmark:
        "benchmarks/bwa_mem/{sample}/{unit}.tsv"
    conda:
        "../envs/bwa.yaml"
    threads: 8
    resources:
        mem_mb=8000,
        runtime=240,
    params:
        index=lambda wildcards, input: input.index[0].removesuffix(".amb"),
        read_group=read_group,
        extra=config["bwa_mem"]["extra"],
        # mate scores and tags for samtools markdup; added where bwa's pairs are still adjacent
        fixmate="samtools fixmate -m -u - -" if config["mark_duplicates"] else "cat",
        bwa_threads=lambda wildcards, threads: threads - threads // 4,
        sort_threads=lambda wildcards, threads: threads // 4,
        sort_mem=lambda wildcards, threads, resources: max(
            64,
            int(resources.mem_mb * config["bwa_mem"]["sort_mem_fraction"])
            // (threads // 4 + 1),
        ),
    shell:
        # bwa exits 0 when R1 and R2 differ in length (it only warns) or hold no reads, so the
        # log is checked; on failure the inputs are tested to name a corrupt file. Snakemake
        # removes a failed job's outputs, so no partial BAM is left.
        """
        fail() {{ echo "ERROR: sample {wildcards.sample}, unit {wildcards.unit}: $1" | tee -a {log} >&2; exit 1; }}
        if ! (bwa mem -t {params.bwa_threads} {params.extra} -R '{params.read_group}' \
            {params.index} {input.reads} \
            | {params.fixmate} \
            | samtools sort -@ {params.sort_threads} -m {params.sort_mem}M \
                -T {resources.tmpdir}/{wildcards.sample}.{wildcards.unit}.sort \
                -o {output.bam}##idx##{output.bai} --write-index -) 2>{log}; then
            for fq in {input.reads}; do
                case "$fq" in *.gz) gzip -t "$fq" 2>/dev/null || fail "$fq is truncated or not valid gzip" ;; esac
            done
            fail "bwa mem | samtools sort failed (see the messages above)"
        fi
        if grep -q 'W::bseq_read' {log}; then
            fail "{input.reads[0]} and {input.reads[1]} hold different numbers of reads"
        fi
        if ! grep -q 'M::process. read [1-9]' {log}; then
            fail "no reads in {input.reads[0]} / {input.reads[1]}"
        fi
        """


# With duplicate marking the merged BAM is an intermediate that samtools_markdup turns into
# results/mapped/{sample}.bam; without it, the merged BAM is the final one.
MERGED_BAM = (
    "results/mapped/merged/{sample}.bam"
    if config["mark_duplicates"]
    else "results/mapped/{sample}.bam"
)


def final_or_temp(path):
    return temp(path) if config["mark_duplicates"] else path


rule samtools_merge:
    """One BAM per sample: units merged (read groups kept); a single unit is linked, not
    rewritten."""
    input:
        bams=lambda wildcards: expand(
            "results/mapped/units/{{sample}}/{unit}.bam",
            unit=sample_units(wildcards.sample),
        ),
        bais=lambda wildcards: expand(
            "results/mapped/units/{{sample}}/{unit}.bam.bai",
            unit=sample_units(wildcards.sample),
        ),
    output:
        bam=final_or_temp(MERGED_BAM),
        bai=final_or_temp(MERGED_BAM + ".bai"),
    log:
        "logs/samtools_merge/{sample}.log",
    benchmark:
        "benchmarks/samtools_merge/{sample}.tsv"
    conda:
        "../envs/samtools.yaml"
    threads: 4
    resources:
        mem_mb=2048,
        runtime=120,
    shell:
        """
        if [ $(echo {input.bams} | wc -w) -eq 1 ]; then
            for ext in "" .bai; do
                ln -f {input.bams}$ext {output.bam}$ext 2>/dev/null || cp {input.bams}$ext {output.bam}$ext
                touch {output.bam}$ext
            done
            echo "single unit {input.bams} linked to {output.bam}" >{log}
        else
            samtools merge -@ {threads} -o {output.bam}##idx##{output.bai} --write-index {input.bams} 2>{log}
        fi
        """
