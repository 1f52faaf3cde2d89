"""Pass a FASTQ through to stdout as plain text, checking every record on the way.

bwa parses FASTQ leniently: a record cut short at the end of a file is dropped without a word.
`bwa_mem.sh` reads each FASTQ through this filter instead, so a truncated or malformed record
anywhere fails the job naming the file and the record. The workflow's up-front check reads the
first record with the same code (`first_record_problem`).

The filter runs beside bwa on the same cores, so it checks blocks of records at once (list
slices and `map`, no Python loop per record); a block that fails the quick check is read again
record by record, which decides and names the problem.

Usage: check_fastq.py FASTQ > plain.fastq   (on a bad record: the reason on stderr, exit 1)
       check_fastq.py --count FASTQ          (prints "<records>\t<longest sequence>" instead;
                                              count_pairs.sh plans shards with it)
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from itertools import chain
from operator import itemgetter, methodcaller
from typing import BinaryIO

BLOCK = 1 << 20
FIRST_BYTE = itemgetter(0)
STRIP_CR = methodcaller("rstrip", b"\r")


class FastqError(ValueError):
    """A record that is not FASTQ; the message names the record."""


def is_gzip(path: str) -> bool:
    """Compressed or not by the file's first bytes (gzip magic), never by its name."""
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def open_by_content(path: str) -> BinaryIO:
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def records(lines: Iterable[bytes], number: int = 0) -> Iterator[bytes]:
    """Each four-line record as it is; blank lines are allowed only at the end of the file.
    `number` records came before `lines` (for the record and line numbers in messages)."""
    lines = iter(lines)
    for header in lines:
        if not header.strip():
            if any(line.strip() for line in lines):
                raise FastqError(f"a blank line follows record {number}")
            return
        number += 1
        seq, plus, qual = next(lines, b""), next(lines, b""), next(lines, b"")
        where = f"record {number} (line {4 * number - 3})"
        if not header.startswith(b"@"):
            raise FastqError(f"{where} does not start with '@'")
        if not qual:
            raise FastqError(f"{where} is incomplete: the file ends inside it")
        if not plus.startswith(b"+"):
            raise FastqError(f"{where} has no '+' line")
        seq_len, qual_len = len(seq.rstrip(b"\r\n")), len(qual.rstrip(b"\r\n"))
        if seq_len != qual_len:
            raise FastqError(f"{where} has {qual_len} quality characters for {seq_len} bases")
        yield header + seq + plus + qual


def well_formed(lines: list[bytes], crlf: bool) -> bool:
    """Whether whole records (4 lines each, split at newlines; `crlf`: some end in \\r) pass
    every check of `records` for certain; False means: ask `records`."""
    seqs, quals = lines[1::4], lines[3::4]
    if crlf:
        seqs, quals = map(STRIP_CR, seqs), map(STRIP_CR, quals)
    try:
        return (
            set(map(FIRST_BYTE, lines[0::4])) == {64}  # '@'
            and set(map(FIRST_BYTE, lines[2::4])) == {43}  # '+'
            and list(map(len, seqs)) == list(map(len, quals))
        )
    except IndexError:  # an empty line
        return False


def first_record_problem(path: str) -> str | None:
    """What is wrong with the first record of `path` ('is empty', ...), or None."""
    try:
        with open_by_content(path) as handle:
            if next(records(handle), None) is None:
                return "is empty"
    except FastqError as error:
        return f"is not FASTQ: {error}"
    except (OSError, EOFError, zlib.error) as error:
        return f"cannot be read ({error})"
    return None


def checked(handle: BinaryIO) -> Iterator[tuple[bytes, int]]:
    """The records of `handle` in chunks, each with its number of records; FastqError names
    the first bad record. A read error propagates (the caller knows how far it got)."""
    number, data = 0, b""
    while block := handle.read(BLOCK):
        data += block
        lines = data.split(b"\n")
        whole = (len(lines) - 1) // 4 * 4  # the last item is not a whole line yet
        if whole:
            if not well_formed(lines[:whole], b"\r" in data):
                break
            yield b"\n".join(lines[:whole]) + b"\n", whole // 4
            number += whole // 4
            data = b"\n".join(lines[whole:])
    # The end of the file, or a block the quick check could not pass: record by record.
    for record in records(chain(io.BytesIO(data), handle), number):
        yield record, 1


def main(path: str, count: bool = False) -> int:
    out = sys.stdout.buffer
    number = longest = 0
    try:
        with open_by_content(path) as handle:
            for chunk, records_in_chunk in checked(handle):
                number += records_in_chunk
                if count:
                    sequences = map(STRIP_CR, chunk.split(b"\n")[1::4])
                    longest = max(longest, *map(len, sequences))
                else:
                    out.write(chunk)
            if count:
                out.write(f"{number}\t{longest}\n".encode())
            out.flush()
    except BrokenPipeError:
        # The reader (bwa) stopped early and reports why itself.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except FastqError as error:
        print(f"{path}: {error}", file=sys.stderr)
        return 1
    except (OSError, EOFError, zlib.error) as error:
        print(
            f"{path} is truncated or not valid gzip (after record {number}: {error})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--count":
        sys.exit(main(sys.argv[2], count=True))
    sys.exit(main(sys.argv[1]))
