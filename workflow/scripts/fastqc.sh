#!/usr/bin/env bash
# FastQC on one FASTQ, its report named NAME. Every argument is a value, never shell code.
#
# Usage: fastqc.sh FASTQ NAME ZIP HTML LOG THREADS TMPDIR [fastqc options...]
#
# FastQC names its report after the input file and MultiQC names the sample after the
# Filename inside it, so the input is linked as NAME in a private folder. FastQC decides on
# decompression by the file name, so the link's suffix follows the content (gzip magic), not
# the input's name. FastQC exits 0 even when it cannot read the file; a missing report is the
# failure.
set -uo pipefail
fastq=$1 name=$2 zip=$3 html=$4 log=$5 threads=$6 tmp=$7
shift 7

work=$(mktemp -d "$tmp/fastqc.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ "$(head -c 2 -- "$fastq" | od -An -tx1 | tr -d ' \n')" = 1f8b ]; then
    link=$work/$name.fastq.gz
else
    link=$work/$name.fastq
fi
ln -s "$(realpath -- "$fastq")" "$link"
fastqc --quiet --threads "$threads" "$@" --outdir "$work" "$link" >"$log" 2>&1
if grep -q 'Failed to process' "$log" || [ ! -s "$work/${name}_fastqc.zip" ]; then
    echo "ERROR: FastQC could not read $fastq" | tee -a "$log" >&2
    exit 1
fi
mv "$work/${name}_fastqc.zip" "$zip"
mv "$work/${name}_fastqc.html" "$html"
