#!/usr/bin/env bash
# Count the read pairs of one unit and choose bwa mem's batch size (-K) for its shards, before
# the workflow plans the unit's shards (the checkpoint count_pairs). Every record of both files
# is checked on the way (workflow/scripts/check_fastq.py: the same checks and messages as an unsharded
# bwa_mem job), R1 and R2 in parallel, so bad input fails here, naming the file, not in a shard.
#
# Usage: count_pairs.sh SAMPLE UNIT FQ1 FQ2 PAIRS_PER_SHARD OUT LOG
# OUT: one line, "<pairs>\t<bwa -K>".
#
# -K: bwa mem estimates insert sizes per batch of -K bases (R1 + R2), read until the batch
# holds at least -K bases. With -K = b * 2 * L for reads of length L, a batch is exactly b
# pairs; b is the largest divisor of the shard size whose batch stays within 100 M bases
# (bwa's memory grows with the batch), so a shard is a whole number of batches, and the
# shards' batches are those of an unsharded run with the same -K. L is the longest read.
set -uo pipefail
sample=$1 unit=$2 fq1=$3 fq2=$4 shard_pairs=$5 out=$6 log=$7
check=$(dirname "$0")/check_fastq.py
max_batch_bases=100000000

fail() {
    echo "ERROR: sample $sample, unit $unit: $1" | tee -a "$log" >&2
    exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$log"
# records and the longest read of each file, every record checked
python3 "$check" --count "$fq1" >"$work/1.count" 2>"$work/1.err" &
python3 "$check" --count "$fq2" >"$work/2.count" 2>"$work/2.err" &
wait
for err in "$work/1.err" "$work/2.err"; do
    if [ -s "$err" ]; then
        fail "$(cat "$err")"
    fi
done
read -r pairs1 len1 <"$work/1.count"
read -r pairs2 len2 <"$work/2.count"
if [ "$pairs1" != "$pairs2" ]; then
    fail "$fq1 and $fq2 hold different numbers of reads ($pairs1 and $pairs2)"
fi
if [ "$pairs1" -eq 0 ]; then
    fail "no reads in $fq1 / $fq2"
fi
longest=$((len1 > len2 ? len1 : len2))
parts=1
while [ $((shard_pairs % parts)) -ne 0 ] || [ $((shard_pairs / parts * 2 * longest)) -gt "$max_batch_bases" ]; do
    parts=$((parts + 1))
done
batch=$((shard_pairs / parts * 2 * longest))
printf '%s\t%s\n' "$pairs1" "$batch" >"$out"
echo "sample $sample, unit $unit: $pairs1 read pairs, longest read $longest; bwa mem -K $batch" \
    "($((shard_pairs / parts)) pairs per batch, $parts per shard of $shard_pairs pairs)" >>"$log"
