rule fastqc:
    """FastQC names its report after the input file and MultiQC names the sample after the
    Filename inside it, so the script runs it on a link named {sample}_{unit}_{read}. The zip
    carries that name too: MultiQC skips a zip whose name matches a report already read.
    """
    input:
        unit_fastq,
    output:
        zip="results/qc/fastqc/{sample}/{sample}_{unit}_{read}_fastqc.zip",
        html="results/qc/fastqc/{sample}/{sample}_{unit}_{read}_fastqc.html",
    log:
        "logs/fastqc/{sample}/{unit}_{read}.log",
    benchmark:
        "benchmarks/fastqc/{sample}/{unit}_{read}.tsv"
    conda:
        "../envs/fastqc.yaml"
    threads: 1
    resources:
        mem_mb=1024,
        runtime=60,
    params:
        script=SCRIPTS / "fastqc.sh",
        name="{sample}_{unit}_{read}",
        extra=shell_words("fastqc.extra", config["fastqc"]["extra"]),
    shell:
        # The input is linked under the report's name with a suffix chosen by content.
        "bash {params.script:q} {input:q} {params.name:q} {output.zip:q} {output.html:q} {log:q}"
        " {threads} {resources.tmpdir:q} {params.extra}"


rule samtools_stats:
    """samtools stats and flagstat of the final BAM in one job: one read of it (on Azure ML,
    one download) for both reports."""
    input:
        bam="results/mapped/{sample}.bam",
    output:
        stats="results/qc/samtools/{sample}.stats.txt",
        flagstat="results/qc/samtools/{sample}.flagstat.txt",
    log:
        "logs/samtools_stats/{sample}.log",
    benchmark:
        "benchmarks/samtools_stats/{sample}.tsv"
    conda:
        "../envs/samtools.yaml"
    threads: 1
    resources:
        mem_mb=1024,
        runtime=60,
    shell:
        "(samtools stats {input.bam:q} > {output.stats:q}"
        " && samtools flagstat {input.bam:q} > {output.flagstat:q}) 2> {log:q}"


rule multiqc:
    """One report over exactly the files of this run (a file list, not a folder scan)."""
    input:
        fastqc=fastqc_outputs(),
        stats=expand("results/qc/samtools/{sample}.stats.txt", sample=SAMPLES),
        flagstat=expand("results/qc/samtools/{sample}.flagstat.txt", sample=SAMPLES),
        markdup=expand(MARKDUP_METRICS, sample=SAMPLES if MARK_DUPLICATES else []),
        coverage=expand(
            "results/qc/mosdepth/{sample}.mosdepth.{kind}.txt",
            sample=SAMPLES,
            kind=["summary", "global.dist"],
        ),
    output:
        report="results/qc/multiqc_report.html",
        data=directory("results/qc/multiqc_report_data"),
    log:
        "logs/multiqc.log",
    benchmark:
        "benchmarks/multiqc.tsv"
    conda:
        "../envs/multiqc.yaml"
    threads: 1
    resources:
        mem_mb=2048,
        runtime=60,
    params:
        extra=shell_words("multiqc.extra", config["multiqc"]["extra"]),
        # sample names as in the sheet, and the search pattern of samtools markdup's report
        settings=Path(workflow.basedir).parent / "config" / "multiqc.yaml",
    shell:
        """
        files=$(mktemp {resources.tmpdir:q}/multiqc_files.XXXXXX)
        trap 'rm -f "$files"' EXIT
        printf '%s\\n' {input:q} >"$files"
        multiqc --force --no-ansi --config {params.settings:q} {params.extra} \
            --outdir "$(dirname {output.report:q})" --filename multiqc_report.html --file-list "$files" >{log:q} 2>&1
        """
