#!/usr/bin/env bash
# Split one unit's read pair into shards of PAIRS_PER_SHARD pairs with seqkit split2, into the
# rule's shard slots: shard i (1-based) becomes the i-th R1 and R2 slot. The rule declares a
# fixed number of slots (Snakemake needs a job's outputs before it runs); the slots past the
# unit's last shard are left empty, and Snakemake removes them as temporary files after the
# merge. The inputs were checked record by record when count_pairs counted them. A unit
# needing more shards than slots fails here (only this unit's job), with the smallest
# split_fastq that fits.
#
# Usage: split_fastq.sh SAMPLE UNIT FQ1 FQ2 PAIRS_FILE PAIRS_PER_SHARD THREADS LOG
#                       R1_SLOT1 R2_SLOT1 ...
set -euo pipefail
sample=$1 unit=$2 fq1=$3 fq2=$4 pairs_file=$5 shard_pairs=$6 threads=$7 log=$8
shift 8
slots=$(($# / 2))
pairs=$(cut -f1 "$pairs_file")
shards=$(((pairs + shard_pairs - 1) / shard_pairs))
if [ "$shards" -gt "$slots" ]; then
    echo "ERROR: Sample $sample, unit $unit: $pairs read pairs make $shards shards of" \
        "split_fastq=$shard_pairs, more than $slots: set split_fastq to at least" \
        "$(((pairs + slots - 1) / slots))" | tee "$log" >&2
    exit 1
fi

work=$(mktemp -d "$(dirname "$1")/.split.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Fixed input names: seqkit names its parts after the inputs, which may share a file name
# (run1/reads.fq.gz, run2/reads.fq.gz) or carry any extension; it reads gzip or plain by content.
ln -s "$(realpath "$fq1")" "$work/R1.fq"
ln -s "$(realpath "$fq2")" "$work/R2.fq"
seqkit split2 -1 "$work/R1.fq" -2 "$work/R2.fq" -s "$shard_pairs" -e .gz -j "$threads" \
    -O "$work/parts" >"$log" 2>&1
made=$(find "$work/parts" -name 'R1.part_*' | wc -l)
if [ "$made" -ne "$shards" ]; then
    echo "ERROR: seqkit split2 wrote $made shards of $fq1 / $fq2, expected $shards" \
        "($pairs pairs, $shard_pairs per shard)" | tee -a "$log" >&2
    exit 1
fi
for ((i = 1; i <= slots; i++)); do
    r1=$1 r2=$2
    shift 2
    part=$(printf '%03d' "$i")
    if [ "$i" -le "$shards" ]; then
        mv "$work/parts/R1.part_$part.fq.gz" "$r1"
        mv "$work/parts/R2.part_$part.fq.gz" "$r2"
    else
        : >"$r1"
        : >"$r2"
    fi
done
echo "$shards shard(s) of at most $shard_pairs pairs" >>"$log"
