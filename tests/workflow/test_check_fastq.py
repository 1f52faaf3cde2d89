"""workflow/scripts/check_fastq.py, the filter between each FASTQ and bwa: it passes good files
through unchanged and names the first bad record wherever it falls, also across its read blocks
(made small here so that a few hundred records span many of them)."""

from __future__ import annotations

import gzip
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from tests.fixtures.workflow import ROOT

SCRIPT = ROOT / "workflow" / "scripts" / "check_fastq.py"


def fastq(records: int, newline: str = "\n", **bad: int) -> bytes:
    """`records` reads of 100 bases; bad=<kind>=<record number> spoils one record."""
    lines = []
    for n in range(1, records + 1):
        header, seq, plus, qual = f"@r{n}", "ACGT" * 25, "+", "I" * 100
        if bad.get("qual") == n:
            qual = "I" * 90
        if bad.get("header") == n:
            header = f"r{n}"
        if bad.get("plus") == n:
            plus = "-"
        if bad.get("space_qual") == n:
            qual = "I" * 50 + " " + "I" * 49
        if bad.get("long_name") == n:
            header = "@" + "r" * 255 + " comment"
        if bad.get("cr_seq") == n:  # '\r' ends the sequence line only: same raw length
            seq, qual = seq[:-1] + "A\r", qual + "I"
        lines += [header, seq, plus, qual]
    return (newline.join(lines) + newline).encode()


def run(tmp_path: Path, data: bytes, block: int = 1000, gz: bool = True):
    """The filter on `data` with read blocks of `block` bytes: (exit code, stdout, stderr)."""
    path = tmp_path / ("in.fq.gz" if gz else "in.fq")
    path.write_bytes(gzip.compress(data) if gz else data)
    code = (
        "import importlib.util, sys; "
        f"spec = importlib.util.spec_from_file_location('check_fastq', {str(SCRIPT)!r}); "
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
        f"m.BLOCK = {block}; sys.exit(m.main(sys.argv[1]))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True)
    return proc.returncode, proc.stdout, proc.stderr.decode()


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("gz", [True, False])
def test_good_files_pass_through_unchanged(tmp_path, newline, gz):
    data = fastq(300, newline)
    assert run(tmp_path, data, gz=gz) == (0, data, "")
    # blank lines at the very end are allowed (and dropped), as before
    assert run(tmp_path, data + b"\n\n", gz=gz) == (0, data, "")


@pytest.mark.parametrize("record", [1, 7, 150, 299, 300])
def test_a_bad_record_anywhere_is_named_with_its_line(tmp_path, record):
    line = 4 * record - 3
    cases = {
        "qual": f"record {record} (line {line}) has 90 quality characters for 100 bases",
        "header": f"record {record} (line {line}) does not start with '@'",
        "plus": f"record {record} (line {line}) has no '+' line",
        "space_qual": f"record {record} (line {line}) has the quality character ' ' (byte 0x20)",
        "long_name": f"record {record} (line {line}) has a read name of 255 characters; SAM "
        "allows 254",
    }
    for kind, message in cases.items():
        code, _, err = run(tmp_path, fastq(300, **{kind: record}))
        assert code == 1
        assert err.strip().startswith(f"{tmp_path / 'in.fq.gz'}: {message}")


def test_carriage_return_counts_only_as_a_line_end(tmp_path):
    code, _, err = run(tmp_path, fastq(300, cr_seq=120))
    assert code == 1
    assert "record 120 (line 477) has 101 quality characters for 100 bases" in err


def test_cut_short_blank_line_and_truncated_gzip(tmp_path):
    data = fastq(300)
    code, _, err = run(tmp_path, data[: data.rindex(b"+")])
    assert code == 1 and "record 300 (line 1197) is incomplete: the file ends inside it" in err
    lines = data.split(b"\n")
    blank = b"\n".join([*lines[:400], b"", *lines[400:]])
    code, _, err = run(tmp_path, blank)
    assert code == 1 and "a blank line follows record 100" in err
    path = tmp_path / "cut.fq.gz"
    path.write_bytes(gzip.compress(data)[:-100])
    proc = subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True)
    assert proc.returncode == 1
    assert f"{path} is truncated or not valid gzip (after record " in proc.stderr.decode()


def test_a_truncated_gzip_counts_the_records_it_holds(tmp_path):
    """'after record 0' used to be reported when the first read block failed, however many
    records came before the cut."""
    data = gzip.compress(fastq(300))
    path = tmp_path / "cut.fq.gz"
    for keep in (len(data) // 4, len(data) - 100):
        path.write_bytes(data[:keep])
        readable = zlib.decompressobj(31).decompress(data[:keep])
        whole = readable.count(b"\n") // 4
        assert whole > 10
        proc = subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True)
        assert proc.returncode == 1
        assert f"is truncated or not valid gzip (after record {whole}: " in proc.stderr.decode()


@pytest.mark.parametrize(
    ("magic", "kind"),
    [(b"BZh91AY", "bzip2"), (b"\x28\xb5\x2f\xfd\x00", "zstd"), (b"\xfd7zXZ\x00", "xz")],
)
def test_other_compressions_are_named(tmp_path, magic, kind):
    """Read by content, as gzip is: such a file used to fail with "does not start with '@'"."""
    path = tmp_path / "in.fq"
    path.write_bytes(magic + bytes(100))
    proc = subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True)
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith(f"{path} is compressed with {kind}, which the tools")
