#!/usr/bin/env bash
# The hand-written baseline: the workflow's tool commands, with the same threads, as a careful
# person would script them. FastQC and indexing run together; bwa is piped into samtools fixmate
# and sort; duplicates are marked per sample and coverage measured with mosdepth.
# Usage: baseline.sh REFERENCE SHEET OUTDIR THREADS SORT_MEM_MB
set -euo pipefail
ref=$1 sheet=$2 out=$3 threads=$4 sort_mem=$5
bwa_threads=$((threads - threads / 4)) sort_threads=$((threads / 4))
mkdir -p "$out"/{index,fastqc,mapped,stats}

bwa index -a is -p "$out/index/genome" "$ref" 2> "$out/index/log" &
index_pid=$!
# One FastQC per file, as many at once as there are threads (like one-thread FastQC jobs).
tail -n +2 "$sheet" | while IFS=$'\t' read -r sample unit fq1 fq2; do
    for pair in "R1 $fq1" "R2 $fq2"; do
        set -- $pair
        d="$out/fastqc/$sample.$unit.$1" && mkdir -p "$d"
        ln -sf "$(realpath "$2")" "$d/${sample}_${unit}_$1.fastq.gz"
        echo "$d/${sample}_${unit}_$1.fastq.gz"
    done
done | xargs -P "$threads" -I{} sh -c 'fastqc --quiet --threads 1 --outdir "$(dirname {})" {} > /dev/null 2>&1'
wait "$index_pid"

tail -n +2 "$sheet" | while IFS=$'\t' read -r sample unit fq1 fq2; do
    bwa mem -t "$bwa_threads" -R "@RG\tID:$sample.$unit\tSM:$sample\tLB:$sample\tPL:ILLUMINA\tPU:$sample.$unit" \
        "$out/index/genome" "$fq1" "$fq2" 2> "$out/mapped/$sample.log" \
        | samtools fixmate -m -u - - \
        | samtools sort -@ "$sort_threads" -m "${sort_mem}M" -T "$out/mapped/$sample.tmp" \
            -o "$out/mapped/$sample.sorted.bam" -
    samtools markdup -@ "$threads" -f "$out/stats/$sample.markdup.txt" -T "$out/mapped/$sample.md" \
        --write-index "$out/mapped/$sample.sorted.bam" "$out/mapped/$sample.bam##idx##$out/mapped/$sample.bam.bai"
    rm "$out/mapped/$sample.sorted.bam"
done

tail -n +2 "$sheet" | cut -f1 | sort -u | xargs -P "$threads" -I{} sh -c \
    "samtools stats $out/mapped/{}.bam > $out/stats/{}.stats.txt && samtools flagstat $out/mapped/{}.bam > $out/stats/{}.flagstat.txt \
     && mosdepth --threads 2 --no-per-base $out/stats/{} $out/mapped/{}.bam"
multiqc --force --quiet --outdir "$out" --filename multiqc_report.html \
    --cl-config "sp: {samtools/markdup_txt: {contents: 'samtools markdup', num_lines: 2}}" \
    "$out/fastqc" "$out/stats" > /dev/null 2>&1
