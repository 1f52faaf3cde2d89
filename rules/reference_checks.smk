"""Checks of the reference FASTA before the index is built: nucleotide content (a protein
FASTA is refused) and unique contig names, cheap enough for a 3 GB genome."""

import os
from collections import Counter

# Letters of nucleotide sequence; a reference whose sample has fewer is refused (protein).
NUCLEOTIDES = b"ACGTUNacgtun"
NUCLEOTIDE_SHARE = 0.9
REFERENCE_SAMPLE = 1 << 20
FASTA_BLOCK = 1 << 24


def scan_fasta(path, with_names):
    """Up to REFERENCE_SAMPLE bytes of sequence and (with_names) the name of every record.
    Read in large blocks and searched for '>' only (a fast byte scan), so that a 3 GB
    reference streams in seconds."""
    names, sequence = [], bytearray()

    def sample(block, start, stop):
        room = REFERENCE_SAMPLE - len(sequence)
        if room > 0:
            sequence.extend(block[start : min(stop, start + room)])

    def add_name(header):
        names.append((header.split() or [b""])[0].decode(errors="replace"))

    with fastq.open_by_content(path) as handle:
        line_start, header = (
            True,
            None,
        )  # header: a header line cut by the end of a block
        while block := handle.read(FASTA_BLOCK):
            pos = 0
            if header is not None:
                eol = block.find(b"\n")
                if eol == -1:
                    header += block
                    continue
                add_name(header + block[:eol])
                header, pos = None, eol
            while (hit := block.find(b">", pos)) != -1:
                if not (block[hit - 1] == 10 if hit else line_start):
                    pos = hit + 1  # not at a line start: not a header
                    continue
                sample(block, pos, hit)
                eol = block.find(b"\n", hit)
                if eol == -1:
                    header, pos = block[hit + 1 :], len(block)
                    break
                add_name(block[hit + 1 : eol])
                pos = eol
            sample(block, pos, len(block))
            line_start = block.endswith(b"\n")
            if not with_names and len(sequence) >= REFERENCE_SAMPLE:
                break
        if header is not None:
            add_name(header)
    return names, bytes(sequence)


def reference_problem(path):
    """Why `path` cannot be the reference, or None: not FASTA, not nucleotide (judged on its
    first MiB of sequence) or contig names that occur twice (bwa would fail in every job).
    Names come from a .fai beside the reference when it is newer, else from the headers.
    """
    with fastq.open_by_content(path) as handle:
        if handle.read(1) != b">":
            return "is not FASTA (it must start with '>')"
    fai = f"{path}.fai"
    indexed = os.path.exists(fai) and os.path.getmtime(fai) >= os.path.getmtime(path)
    names, sequence = scan_fasta(path, with_names=not indexed)
    if indexed:
        with open(fai) as index:
            names = [line.split("\t", 1)[0] for line in index]
    letters = sequence.translate(None, b" \t\r\n")
    if not letters:
        return "holds no sequence"
    share = 1 - len(letters.translate(None, NUCLEOTIDES)) / len(letters)
    if share < NUCLEOTIDE_SHARE:
        return (
            f"is not nucleotide sequence: only {share:.0%} of its first {len(letters):,} "
            "sequence letters are A, C, G, T/U or N (a protein FASTA?)"
        )
    counts = Counter(names)
    twice = [name for name in names if counts[name] > 1]
    if twice:
        records = [str(i) for i, name in enumerate(names, start=1) if name == twice[0]]
        return (
            f"has the contig name {twice[0]!r} more than once (records {', '.join(records)}); "
            "names must be unique"
        )
    return None
