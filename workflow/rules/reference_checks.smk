"""Checks of the reference FASTA before the index is built: named, non-empty records, nucleotide
content (a protein FASTA is refused), unique contig names and a .fai that agrees with it, cheap
enough for a 3 GB genome."""

import os
import re
from collections import Counter

# Letters of nucleotide sequence; a reference whose sample has fewer is refused (protein).
NUCLEOTIDES = b"ACGTUNacgtun"
NUCLEOTIDE_SHARE = 0.9
REFERENCE_SAMPLE = 1 << 20
FASTA_BLOCK = 1 << 24
NOT_BLANK = re.compile(rb"\S")


def scan_fasta(path, lengths):
    """[name, has sequence, length] of every record (length None unless `lengths`) and up to
    REFERENCE_SAMPLE bytes of sequence. Read in large blocks and searched for '>' only (a fast
    byte scan), so that a 3 GB reference streams in about a second; counting its lines for
    the lengths (to compare with a .fai) about doubles that."""
    records, sequence = [], bytearray()

    def add_sequence(block, start, stop):
        if records:
            record = records[-1]
            record[1] = record[1] or bool(NOT_BLANK.search(block, start, stop))
            if lengths:
                record[2] += stop - start - block.count(b"\n", start, stop)
                if crlf:
                    record[2] -= block.count(b"\r", start, stop)
        room = REFERENCE_SAMPLE - len(sequence)
        if room > 0:
            sequence.extend(block[start : min(stop, start + room)])

    def add_record(header):
        name = (header.split() or [b""])[0].decode(errors="replace")
        records.append([name, False, 0 if lengths else None])

    with fastq.open_by_content(path) as handle:
        # header: a header line cut by the end of a block
        line_start, header = True, None
        while block := handle.read(FASTA_BLOCK):
            pos, crlf = 0, b"\r" in block
            if header is not None:
                eol = block.find(b"\n")
                if eol == -1:
                    header += block
                    continue
                add_record(header + block[:eol])
                header, pos = None, eol
            while (hit := block.find(b">", pos)) != -1:
                if not (block[hit - 1] == 10 if hit else line_start):
                    pos = hit + 1  # not at a line start: not a header
                    continue
                add_sequence(block, pos, hit)
                eol = block.find(b"\n", hit)
                if eol == -1:
                    header, pos = block[hit + 1 :], len(block)
                    break
                add_record(block[hit + 1 : eol])
                pos = eol
            add_sequence(block, pos, len(block))
            line_start = block.endswith(b"\n")
        if header is not None:
            add_record(header)
    return records, bytes(sequence)


def record_problem(records):
    """A record bwa would index into an invalid BAM header: no name, a name SAM reads
    otherwise ('*' is "no contig"; SAM names cannot start with '*' or '='), no sequence.
    """
    for number, (name, has_sequence, _) in enumerate(records, start=1):
        if not name:
            return f"record {number} has no name (a '>' line with nothing after it)"
        if name[0] in "*=":
            return (
                f"record {number} is named {name!r}; SAM contig names cannot start with "
                "'*' or '='"
            )
        if not has_sequence:
            return f"record {number} ({name!r}) holds no sequence"
    return None


def index_problem(fai, records):
    """Why the .fai beside the reference does not describe it (names and lengths), or None:
    a stale index would give other tools contigs the reference does not have."""
    with open(fai, errors="replace") as index:
        rows = [line.rstrip("\r\n").split("\t") for line in index if line.strip()]
    indexed = [(row[0], row[1] if len(row) > 1 else "") for row in rows]
    for number, ((name, _, length), entry) in enumerate(zip(records, indexed), start=1):
        if (name, str(length)) != entry:
            return (
                f"does not match its index {fai}: contig {number} is {name!r} of {length} "
                f"bases in the FASTA, {entry[0]!r} of {entry[1] or '?'} in the index; delete "
                "the index or rebuild it (samtools faidx)"
            )
    if len(records) != len(indexed):
        return (
            f"does not match its index {fai}: {len(records)} contigs in the FASTA, "
            f"{len(indexed)} in the index; delete the index or rebuild it (samtools faidx)"
        )
    return None


def reference_problem(path):
    """Why `path` cannot be the reference, or None: not a plain or gzip file, not FASTA, a
    record without name or sequence, not nucleotide (judged on its first MiB of sequence),
    contig names that occur twice (bwa would fail in every job), or a .fai that disagrees.
    """
    if problem := fastq.file_problem(path):
        return problem
    with fastq.open_by_content(path) as handle:
        if handle.read(1) != b">":
            return "is not FASTA (it must start with '>')"
    fai = f"{path}.fai"
    indexed = os.path.exists(fai)
    records, sequence = scan_fasta(path, lengths=indexed)
    if problem := record_problem(records):
        return problem
    letters = sequence.translate(None, b" \t\r\n")
    if not letters:
        return "holds no sequence"
    share = 1 - len(letters.translate(None, NUCLEOTIDES)) / len(letters)
    if share < NUCLEOTIDE_SHARE:
        return (
            f"is not nucleotide sequence: only {share:.0%} of its first {len(letters):,} "
            "sequence letters are A, C, G, T/U or N (a protein FASTA?)"
        )
    names = [name for name, _, _ in records]
    counts = Counter(names)
    twice = [name for name in names if counts[name] > 1]
    if twice:
        numbers = [str(i) for i, name in enumerate(names, start=1) if name == twice[0]]
        return (
            f"has the contig name {twice[0]!r} more than once (records {', '.join(numbers)}); "
            "names must be unique"
        )
    return index_problem(fai, records) if indexed else None
