"""Pass a FASTQ through to stdout as plain text, checking every record on the way.

bwa parses FASTQ leniently: a record cut short at the end of a file is dropped without a word.
`bwa_mem.sh` reads each FASTQ through this filter instead, so a truncated or malformed record
anywhere fails the job naming the file and the record. The workflow's up-front check reads the
first record with the same code (`first_record_problem`).

Usage: check_fastq.py FASTQ > plain.fastq   (on a bad record: the reason on stderr, exit 1)
       check_fastq.py --count FASTQ          (prints "<records>\t<longest sequence>" instead;
                                              count_pairs.sh plans shards with it)
"""

from __future__ import annotations

import gzip
import os
import sys
import zlib
from collections.abc import Iterator
from typing import BinaryIO


class FastqError(ValueError):
    """A record that is not FASTQ; the message names the record."""


def is_gzip(path: str) -> bool:
    """Compressed or not by the file's first bytes (gzip magic), never by its name."""
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def open_by_content(path: str) -> BinaryIO:
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def records(handle: BinaryIO) -> Iterator[bytes]:
    """Each four-line record as it is; blank lines are allowed only at the end of the file."""
    number = 0
    while header := handle.readline():
        if not header.strip():
            if any(line.strip() for line in handle):
                raise FastqError(f"a blank line follows record {number}")
            return
        number += 1
        seq, plus, qual = handle.readline(), handle.readline(), handle.readline()
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


def main(path: str, count: bool = False) -> int:
    out = sys.stdout.buffer
    number = longest = 0
    try:
        with open_by_content(path) as handle:
            for record in records(handle):
                number += 1
                if count:
                    sequence = record.split(b"\n", 2)[1]
                    longest = max(longest, len(sequence.rstrip(b"\r")))
                else:
                    out.write(record)
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
