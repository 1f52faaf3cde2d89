"""Reading the units: a sample sheet (TSV) or a folder of Illumina-named FASTQ pairs, each row
checked against workflow/schemas/samples.schema.yaml; errors name the sheet, line and column.
"""

import os
import re
from collections import Counter
from pathlib import Path

import jsonschema
import yaml
from snakemake.exceptions import WorkflowError

with open(Path(workflow.basedir) / "schemas" / "samples.schema.yaml") as schema:
    SHEET_SCHEMA = yaml.safe_load(schema)
ROW = jsonschema.Draft202012Validator(SHEET_SCHEMA)
NAME = jsonschema.Draft202012Validator(SHEET_SCHEMA["$defs"]["name"])
NAME_RULE = SHEET_SCHEMA["$defs"]["name"]["description"]
COLUMNS = list(SHEET_SCHEMA["properties"])
REQUIRED = SHEET_SCHEMA["required"]
# What looks like a FASTQ file in a reads folder, compressed or not: used, or named in an error
# (the check by content then names a compression the tools cannot read).
FASTQ_SUFFIX = r"\.f(?:ast)?q(?:\.(?:gz|bgz|bz2|zst|xz))?"
FASTQ_NAME = re.compile(f"{FASTQ_SUFFIX}$", re.IGNORECASE)
# Illumina file names: {name}_R1.fastq.gz, or {name}_R1_001.fastq.gz with the chunk number of
# bcl2fastq (_001, _002, ... when it splits a lane's reads over several files); .fq, .gz or not.
ILLUMINA_READ = re.compile(
    rf"^(?P<name>.+)_(?P<read>R[12])(?:_(?P<chunk>\d{{3}}))?{FASTQ_SUFFIX}$"
)
# bcl2fastq/BCL Convert names carry sample number and lane: {sample}_S1_L001.
ILLUMINA_LANE = re.compile(r"^(?P<sample>.+)_S\d+_(?P<lane>L\d{3})$")
# Characters that end or split a line for some readers but not others: a sheet line ends at \n
# or \r\n only, and any other control character (and U+2028/U+2029) is refused.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
CONTROL_NAMES = {
    "\r": "carriage return",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\x85": "next line (NEL)",
    "\u2028": "line separator",
    "\u2029": "paragraph separator",
}
# Byte-order marks of encodings a sheet may arrive in (UTF-32 before UTF-16: same start).
BOMS = [
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
]


class SheetError(WorkflowError):
    """A problem in one line (and column) of the sample sheet."""

    def __init__(self, path, line, message, column=None):
        where = f"line {line}" + (f", column {column}" if column else "")
        super().__init__(f"Sample sheet {path}, {where}: {message}")


def row_problem(record):
    """The first schema violation of a row, in column order, as (column, reason), or None."""
    problems = []
    for error in ROW.iter_errors(record):
        if error.validator == "required":
            for column in error.validator_value:
                if column not in record:
                    problems.append(
                        (column, f"empty; every row needs {', '.join(REQUIRED)}")
                    )
        else:
            column = error.path[0]
            reason = error.schema.get("description", error.message)
            problems.append((column, f"{column} {record[column]!r} {reason}"))
    return min(problems, key=lambda p: COLUMNS.index(p[0]), default=None)


def sheet_text(path):
    """The sheet as text: UTF-8 (a UTF-8 byte-order mark is fine); others are refused by name."""
    data = Path(path).read_bytes()
    for bom, encoding in BOMS:
        if data.startswith(bom):
            raise SheetError(path, 1, f"the file is {encoding}; save it as UTF-8 text")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise SheetError(
            path, line, "NUL bytes: the file is UTF-16 or binary; save it as UTF-8 text"
        )
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise SheetError(
            path,
            line,
            f"byte 0x{data[error.start]:02x} is not UTF-8 (Latin-1 or Windows-1252?); "
            "save the sheet as UTF-8 text",
        ) from None


def sheet_lines(path):
    """(number, line) of each line of the sheet, split at \n and \r\n only (str.splitlines
    also splits at form feeds, U+2028 and others, and would shift the line numbers); a line
    holding another control character is refused by number."""
    for number, line in enumerate(sheet_text(path).split("\n"), start=1):
        line = line.removesuffix("\r")
        if control := CONTROL.search(line):
            char = control.group()
            name = CONTROL_NAMES.get(char, "a control character")
            raise SheetError(
                path,
                number,
                f"U+{ord(char):04X} ({name}) in the line; cells are separated by tabs and "
                "lines end with \\n or \\r\\n only",
            )
        yield number, line


def read_sheet(path):
    """Rows of the sample sheet (TSV) as dicts; each value stripped, blank optional cells
    absent. Lines starting with '#' (after blanks) are comments; a '#' inside a value is
    kept, and so are quotes (as in any TSV)."""
    if not os.path.isfile(path):
        raise WorkflowError(f"Sample sheet not found: {path}")
    lines = [
        (number, line)
        for number, line in sheet_lines(path)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise WorkflowError(f"Sample sheet {path} is empty")
    header_line, header = lines[0]
    columns = [cell.strip() for cell in header.split("\t")]
    for column in columns:
        if column not in COLUMNS:
            raise SheetError(
                path,
                header_line,
                f"unknown column {column!r}; the columns are {', '.join(COLUMNS)} "
                "(tab-separated)",
            )
    for column in REQUIRED:
        if column not in columns:
            raise SheetError(
                path,
                header_line,
                f"no column {column!r}; required: {', '.join(REQUIRED)}",
            )
    twice = [column for column, n in Counter(columns).items() if n > 1]
    if twice:
        raise SheetError(path, header_line, f"column {twice[0]!r} appears twice")
    rows = []
    for number, line in lines[1:]:
        cells = [cell.strip() for cell in line.split("\t")]
        if len(cells) > len(columns):
            raise SheetError(
                path,
                number,
                f"{len(cells)} cells but {len(columns)} columns in the header "
                "(a tab inside a value?)",
            )
        record = {column: cell for column, cell in zip(columns, cells) if cell}
        problem = row_problem(record)
        if problem:
            raise SheetError(path, number, problem[1], column=problem[0])
        rows.append({**record, "_where": f"Sample sheet {path}, line {number}"})
    if not rows:
        raise WorkflowError(f"Sample sheet {path} lists no read pairs")
    return rows


def folder_fastqs(folder):
    """Names of the FASTQ-like files at the top of `folder`; any in a sub-folder is an error
    (only the top level is read, and no FASTQ may be left out without a word)."""
    for parent, _, files in sorted(os.walk(folder))[1:]:
        nested = sorted(name for name in files if FASTQ_NAME.search(name))
        if nested:
            raise WorkflowError(
                f"Reads folder {folder}: {os.path.join(parent, nested[0])} is in a sub-folder, "
                "and only the folder's top level is read: move the pairs up, or list them in a "
                "sample sheet (samples=...)"
            )
    return sorted(name for name in os.listdir(folder) if FASTQ_NAME.search(name))


def folder_reads(folder):
    """{name: {chunk: {read: path}}} of the Illumina-named files in `folder`; a FASTQ named
    otherwise, or a read of a chunk in two files, is an error naming the file."""
    reads = {}
    for file_name in folder_fastqs(folder):
        path = os.path.join(folder, file_name)
        match = ILLUMINA_READ.match(file_name)
        if not match:
            raise WorkflowError(
                f"Reads folder {folder}: {path} is not named as one read of a pair "
                "({name}_R1.fastq.gz / _R2, or {name}_R1_001.fastq.gz / _R2_001, chunks "
                "_002, ... beside _001; .fq or without .gz too): rename it, move it out of "
                "the folder, or list the pairs in a sample sheet (samples=...)"
            )
        chunk = match["chunk"] or "001"
        chunk_reads = reads.setdefault(match["name"], {}).setdefault(chunk, {})
        other = chunk_reads.setdefault(match["read"], path)
        if other != path:
            raise WorkflowError(
                f"Reads folder {folder}: {other} and {path} are both {match['read']} of "
                f"{match['name']} (chunk {chunk}); keep one of them"
            )
    return reads


def chunk_sets(chunks):
    """'R1 chunks 001, 002; R2 chunks 001': which chunks each read of a name has."""
    return "; ".join(
        f"{read} chunks {', '.join(sorted(c for c, pair in chunks.items() if read in pair))}"
        for read in ("R1", "R2")
    )


def discover_units(folder):
    """Pair Illumina-named FASTQs in a folder. Lanes of one sample become its units; so do the
    chunks of a lane that bcl2fastq split (units L001_001, L001_002, ...: aligned each on its
    own and merged per sample like lanes). Every FASTQ in the folder is used or named in an
    error."""
    if not os.path.isdir(folder):
        raise WorkflowError(f"Reads folder not found: {folder}")
    reads = folder_reads(folder)
    if not reads:
        raise WorkflowError(
            f"No FASTQ pairs in {folder}: expected {{name}}_R1.fastq.gz / {{name}}_R2.fastq.gz "
            "or {name}_R1_001.fastq.gz / {name}_R2_001.fastq.gz"
        )
    rows = []
    for name, chunks in reads.items():
        for chunk, pair in chunks.items():
            if set(pair) != {"R1", "R2"}:
                have, lack = ("R1", "R2") if "R1" in pair else ("R2", "R1")
                raise WorkflowError(
                    f"{pair[have]} has no matching {lack} file in {folder}"
                    + (f" ({chunk_sets(chunks)})" if len(chunks) > 1 else "")
                )
            lane = ILLUMINA_LANE.match(name)
            sample, unit = (lane["sample"], lane["lane"]) if lane else (name, "1")
            if len(chunks) > 1:
                unit = f"{lane['lane']}_{chunk}" if lane else chunk
            record = {
                "sample": sample,
                "unit": unit,
                "fq1": pair["R1"],
                "fq2": pair["R2"],
            }
            problem = row_problem(record)
            if problem:
                raise WorkflowError(f"{pair['R1']}: {problem[1]}")
            rows.append({**record, "_where": f"Reads folder {folder}, {pair['R1']}"})
    return rows
