"""One BAM per sample with its index, results/mapped/{sample}.bam: the sample's units (or their
shards) merged and, unless `mark_duplicates: false`, duplicates marked (flag 0x400, not removed)
in the same job, the merge streamed into samtools markdup (workflow/scripts/merge_bams.sh). No merged BAM
is written in between: at genome scale that is a BAM of the sample's size less to write, and on
Azure ML less to upload to the datastore and download again in another job. Duplicates of one
library sequenced on several lanes are found across lanes; the mate tags markdup needs come from
`samtools fixmate -m` in the alignment pipe. The rule is `samtools_markdup` with duplicate
marking and `samtools_merge` without, so logs, benchmarks and job names say what it did.
"""

MERGE_RULE = "samtools_markdup" if MARK_DUPLICATES else "samtools_merge"
MARKDUP_METRICS = "results/qc/samtools/{sample}.markdup.txt"


rule samtools_markdup:
    name:
        MERGE_RULE
    input:
        bams=lambda wildcards: [f"{p}.bam" for p in sample_alignments(wildcards)],
        # Read only when a single input is linked (no duplicate marking), but always declared:
        # a temp output nobody consumes is never stored by a remote job (Snakemake's
        # --unneeded-temp-files), while the main process still expects it in storage.
        bais=lambda wildcards: [f"{p}.bam.bai" for p in sample_alignments(wildcards)],
        unused_shard_slots=unused_slots,
    output:
        **({"metrics": MARKDUP_METRICS} if MARK_DUPLICATES else {}),
        bam="results/mapped/{sample}.bam",
        bai="results/mapped/{sample}.bam.bai",
    log:
        f"logs/{MERGE_RULE}/{{sample}}.log",
    benchmark:
        f"benchmarks/{MERGE_RULE}/{{sample}}.tsv"
    conda:
        "../envs/samtools.yaml"
    threads: 4
    resources:
        mem_mb=2048,
        runtime=120,
    params:
        script=SCRIPTS / "merge_bams.sh",
        # the output's path as the job sees it (under the aml profile: in storage's local copy)
        metrics=lambda wildcards, output: output.metrics if MARK_DUPLICATES else "-",
    shell:
        "bash {params.script:q} {threads} {resources.tmpdir:q} {output.bam:q} {output.bai:q}"
        " {params.metrics:q} {log:q} {input.bams:q}"
