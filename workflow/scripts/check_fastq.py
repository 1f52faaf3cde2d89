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
import stat
import sys
import zlib
from collections.abc import Iterable, Iterator
from itertools import chain
from operator import itemgetter, methodcaller
from typing import BinaryIO

BLOCK = 1 << 20
FIRST_BYTE = FIRST_ITEM = itemgetter(0)
STRIP_CR = methodcaller("rstrip", b"\r")
SPLIT_ONCE = methodcaller("split", None, 1)
# Phred+33 quality characters, '!'..'~' (the range SAM allows).
QUALITY = bytes(range(33, 127))
# The longest read name SAM allows (QNAME); bwa writes longer ones into an invalid BAM.
MAX_NAME = 254
# Magic bytes of compressions that bwa, FastQC and samtools do not read (they read gzip).
OTHER_COMPRESSIONS = [(b"BZh", "bzip2"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"\xfd7zXZ\x00", "xz")]


class FastqError(ValueError):
    """A record that is not FASTQ; the message names the record."""


def is_gzip(path: str) -> bool:
    """Compressed or not by the file's first bytes (gzip magic), never by its name."""
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def open_by_content(path: str) -> BinaryIO:
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def file_problem(path: str) -> str | None:
    """Why an existing `path` cannot be an input (the words after its name), or None: a
    directory, a pipe or a device, or a compression other than gzip (by its magic bytes)."""
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if stat.S_ISFIFO(mode):
        return (
            "is a named pipe (FIFO), not a regular file: its data can be read only once, and "
            "each input is read more than once (the check, FastQC, the alignment)"
        )
    if not stat.S_ISREG(mode):
        return "is not a regular file (a device or a socket?)"
    with open(path, "rb") as handle:
        start = handle.read(6)
    for magic, name in OTHER_COMPRESSIONS:
        if start.startswith(magic):
            return (
                f"is compressed with {name}, which the tools do not read: recompress it with "
                f"gzip ({name} -dc FILE | gzip > FILE.gz) or decompress it"
            )
    return None


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
        if outside := qual.rstrip(b"\r\n").translate(None, QUALITY):
            raise FastqError(
                f"{where} has the quality character {chr(outside[0])!r} "
                f"(byte 0x{outside[0]:02x}); quality characters are '!' to '~'"
            )
        name = header[1:].split(None, 1)[0] if header[1:].strip() else b""
        if len(name) > MAX_NAME:
            raise FastqError(
                f"{where} has a read name of {len(name)} characters; SAM allows {MAX_NAME}"
            )
        yield header + seq + plus + qual


def well_formed(lines: list[bytes], crlf: bool) -> bool:
    """Whether whole records (4 lines each, split at newlines; `crlf`: some end in \\r) pass
    every check of `records` for certain; False means: ask `records`."""
    headers, seqs, quals = lines[0::4], lines[1::4], lines[3::4]
    if crlf:
        seqs, quals = map(STRIP_CR, seqs), list(map(STRIP_CR, quals))
    try:
        return (
            set(map(FIRST_BYTE, headers)) == {64}  # '@'
            and set(map(FIRST_BYTE, lines[2::4])) == {43}  # '+'
            and list(map(len, seqs)) == list(map(len, quals))
            and not b"".join(quals).translate(None, QUALITY)
            # A header this short cannot hold a name that is too long; else split the names.
            and (
                max(map(len, headers)) <= MAX_NAME + 2
                or max(map(len, map(FIRST_ITEM, map(SPLIT_ONCE, headers)))) <= MAX_NAME + 1
            )
        )
    except IndexError:  # an empty line
        return False


def first_record_problem(path: str) -> str | None:
    """What is wrong with the first record of `path` ('is empty', ...), or None."""
    if problem := file_problem(path):
        return problem
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


def whole_records_before_error(path: str) -> int:
    """How many whole records `path` holds before its read error, read again in small pieces:
    a read(BLOCK) that fails loses the records it had already decompressed."""
    lines = 0
    with open_by_content(path) as handle:
        try:
            while block := handle.read1(BLOCK):
                lines += block.count(b"\n")
        except (OSError, EOFError, zlib.error):
            pass
    return lines // 4


def main(path: str, count: bool = False) -> int:
    out = sys.stdout.buffer
    number = longest = 0
    if problem := file_problem(path):
        print(f"{path} {problem}", file=sys.stderr)
        return 1
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
            f"{path} is truncated or not valid gzip (after record "
            f"{whole_records_before_error(path)}: {error})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--count":
        sys.exit(main(sys.argv[2], count=True))
    sys.exit(main(sys.argv[1]))
