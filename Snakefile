# Paired-end short reads: FastQC, a BWA index built once, BWA-MEM into sorted and indexed BAMs
# merged per sample with duplicates marked, samtools stats, mosdepth coverage and a MultiQC
# report. Runs locally (`snakemake --cores N`) and, unchanged, on Azure ML (`snakemake --profile aml`).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "rules/sheet.smk"
include: "rules/reference_checks.smk"
include: "rules/storage.smk"
include: "rules/common.smk"
include: "rules/ref.smk"
include: "rules/shard_plan.smk"
include: "rules/align.smk"
include: "rules/merge.smk"
include: "rules/qc.smk"
include: "rules/coverage.smk"


if config["split_fastq"]:

    include: "rules/shard.smk"


localrules:
    all,


rule all:
    default_target: True
    input:
        expand("results/mapped/{sample}.bam", sample=SAMPLES),
        expand(
            "results/qc/samtools/{sample}.{kind}.txt",
            sample=SAMPLES,
            kind=["stats", "flagstat"],
        ),
        expand("results/qc/mosdepth/{sample}.mosdepth.summary.txt", sample=SAMPLES),
        "results/qc/multiqc_report.html",
