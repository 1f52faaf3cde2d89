#!/usr/bin/env bash
# One BAM per sample from its units' (or their shards') sorted BAMs, read groups kept (-c: a
# unit's shards share one). With duplicate marking the merge streams, uncompressed, straight into
# samtools markdup: no merged BAM is written in between (on Azure ML none is uploaded to the
# datastore and downloaded again by another job). A single input is not merged: it is marked
# as it is, or linked when duplicates are not marked. Every argument is a value, never shell code.
#
# Usage: merge_bams.sh THREADS TMPDIR BAM BAI METRICS LOG IN_BAM...
# METRICS: samtools markdup's report, or - to merge only.
set -euo pipefail
threads=$1 tmp=$2 bam=$3 bai=$4 metrics=$5 log=$6
shift 6

exec 2>"$log"
if [ "$metrics" = - ]; then
    if [ $# -eq 1 ]; then
        for ext in "" .bai; do
            ln -f "$1$ext" "$bam$ext" 2>/dev/null || cp "$1$ext" "$bam$ext"
            touch "$bam$ext"
        done
        echo "single input $1 linked to $bam" >&2
    else
        samtools merge -c -p -@ "$threads" -o "$bam##idx##$bai" --write-index "$@"
    fi
    exit 0
fi

work=$(mktemp -d "$tmp/markdup.XXXXXX")
trap 'rm -rf "$work"' EXIT
markdup() {
    samtools markdup -@ "$threads" -f "$metrics" -T "$work/markdup" --write-index \
        "$1" "$bam##idx##$bai"
}
if [ $# -eq 1 ]; then
    markdup "$1"
else
    samtools merge -c -p -u -@ "$threads" -o - "$@" | markdup -
fi
