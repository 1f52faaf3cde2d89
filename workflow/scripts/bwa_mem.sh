#!/usr/bin/env bash
# Align one read pair and sort it in the same pipe (no SAM on disk). Every argument is a value,
# never shell code: the rule passes each one quoted.
#
# Usage: bwa_mem.sh SAMPLE UNIT FQ1 FQ2 INDEX READ_GROUP BWA_THREADS SORT_THREADS SORT_MEM_MB
#                   TMPDIR BAM BAI LOG MARK_DUPLICATES PAIRS_FILE [bwa mem options...]
# PAIRS_FILE: for a shard, count_pairs' output, whose second field is bwa's batch size (-K);
# - for a whole unit.
#
# Each FASTQ reaches bwa through check_fastq.py, which fails on a truncated or malformed
# record anywhere (bwa would drop it silently). bwa exits 0 when R1 and R2 differ in length
# (it only warns) or hold no reads, so the log is checked too. Snakemake removes a failed job's
# outputs, so no partial BAM is left.
set -uo pipefail
sample=$1 unit=$2 fq1=$3 fq2=$4 index=$5 read_group=$6
bwa_threads=$7 sort_threads=$8 sort_mem=$9 tmp=${10} bam=${11} bai=${12} log=${13}
mark_duplicates=${14} pairs_file=${15}
shift 15
if [ "$pairs_file" != - ]; then
    set -- -K "$(cut -f2 "$pairs_file")" "$@" # options from the config come after, and win
fi
check=$(dirname "$0")/check_fastq.py

fail() {
    echo "ERROR: sample $sample, unit $unit: $1" | tee -a "$log" >&2
    exit 1
}

# Mate scores and tags for samtools markdup, added while bwa's mates are still adjacent.
fixmate() {
    if [ "$mark_duplicates" = true ]; then samtools fixmate -m -u - -; else cat; fi
}

work=$(mktemp -d "$tmp/bwa_mem.XXXXXX")
trap 'rm -rf "$work"' EXIT

{
    bwa mem -t "$bwa_threads" "$@" -R "$read_group" "$index" \
        <(python3 "$check" "$fq1" 2>"$work/fq1.err") \
        <(python3 "$check" "$fq2" 2>"$work/fq2.err") \
        | fixmate \
        | samtools sort -@ "$sort_threads" -m "${sort_mem}M" -T "$work/sort" \
            -o "$bam##idx##$bai" --write-index -
} 2>"$log"
status=$?
wait
for err in "$work/fq1.err" "$work/fq2.err"; do
    if [ -s "$err" ]; then
        fail "$(cat "$err")"
    fi
done
if [ "$status" -ne 0 ]; then
    fail "bwa mem | samtools sort failed (see the messages above)"
fi
if grep -q 'W::bseq_read' "$log"; then
    fail "$fq1 and $fq2 hold different numbers of reads"
fi
if ! grep -q 'M::process. read [1-9]' "$log"; then
    fail "no reads in $fq1 / $fq2"
fi
