"""Reading the units: a sample sheet (TSV) or a folder of Illumina-named FASTQ pairs, each row
checked against config/schemas/samples.schema.yaml; errors name the sheet, line and column.
"""

import os
import re
from collections import Counter
from pathlib import Path

import jsonschema
import yaml
from snakemake.exceptions import WorkflowError

with open(
    Path(workflow.basedir) / "config" / "schemas" / "samples.schema.yaml"
) as schema:
    SHEET_SCHEMA = yaml.safe_load(schema)
ROW = jsonschema.Draft202012Validator(SHEET_SCHEMA)
NAME = jsonschema.Draft202012Validator(SHEET_SCHEMA["$defs"]["name"])
NAME_RULE = SHEET_SCHEMA["$defs"]["name"]["description"]
COLUMNS = list(SHEET_SCHEMA["properties"])
REQUIRED = SHEET_SCHEMA["required"]
# Illumina file names: {name}_R1.fastq.gz or {name}_R1_001.fastq.gz (and .fq, uncompressed).
ILLUMINA_READ = re.compile(
    r"^(?P<name>.+)_(?P<read>R[12])(?P<suffix>(?:_001)?\.f(?:ast)?q(?:\.gz)?)$"
)
# bcl2fastq/BCL Convert names carry sample number and lane: {sample}_S1_L001.
ILLUMINA_LANE = re.compile(r"^(?P<sample>.+)_S\d+_(?P<lane>L\d{3})$")
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


def read_sheet(path):
    """Rows of the sample sheet (TSV) as dicts; each value stripped, blank optional cells
    absent. Lines starting with '#' (after blanks) are comments; a '#' inside a value is
    kept, and so are quotes (as in any TSV)."""
    if not os.path.isfile(path):
        raise WorkflowError(f"Sample sheet not found: {path}")
    lines = [
        (number, line)
        for number, line in enumerate(sheet_text(path).splitlines(), start=1)
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


def discover_units(folder):
    """Pair Illumina-named FASTQs in a folder; lanes of one sample become its units. Pairs in
    sub-folders are reported, not skipped silently."""
    if not os.path.isdir(folder):
        raise WorkflowError(f"Reads folder not found: {folder}")
    for parent, _, files in sorted(os.walk(folder))[1:]:
        nested = sorted(name for name in files if ILLUMINA_READ.match(name))
        if nested:
            raise WorkflowError(
                f"Reads folder {folder}: {os.path.join(parent, nested[0])} is in a sub-folder, "
                "and only the folder's top level is read: move the pairs up, or list them in a "
                "sample sheet (samples=...)"
            )
    reads = {}
    for name in sorted(os.listdir(folder)):
        match = ILLUMINA_READ.match(name)
        if match:
            key = (match["name"], match["suffix"])
            reads.setdefault(key, {})[match["read"]] = os.path.join(folder, name)
    if not reads:
        raise WorkflowError(
            f"No FASTQ pairs in {folder}: expected {{name}}_R1.fastq.gz / {{name}}_R2.fastq.gz "
            "or {name}_R1_001.fastq.gz / {name}_R2_001.fastq.gz"
        )
    rows = []
    for (name, _), pair in reads.items():
        if set(pair) != {"R1", "R2"}:
            have, lack = ("R1", "R2") if "R1" in pair else ("R2", "R1")
            raise WorkflowError(f"{pair[have]} has no matching {lack} file in {folder}")
        lane = ILLUMINA_LANE.match(name)
        sample, unit = (lane["sample"], lane["lane"]) if lane else (name, "1")
        record = {"sample": sample, "unit": unit, "fq1": pair["R1"], "fq2": pair["R2"]}
        problem = row_problem(record)
        if problem:
            raise WorkflowError(f"{pair['R1']}: {problem[1]}")
        rows.append({**record, "_where": f"Reads folder {folder}, {pair['R1']}"})
    return rows
