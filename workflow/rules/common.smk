"""Inputs of the workflow: the units (workflow/rules/sheet.smk reads them) and the reference
(workflow/rules/reference_checks.smk), checked before any job runs so that bad input fails early and
names its file; then the per-unit lookups the rules use. Values from the sheet, a folder
listing or the config reach shell commands only quoted. What concerns the default storage (the
aml profile) is in workflow/rules/storage.smk.
"""

import difflib
import gc
import importlib.util
import os
import re
import shlex
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.io import get_wildcard_names
from snakemake.utils import validate

with open(Path(workflow.basedir) / "schemas" / "config.schema.yaml") as schema:
    CONFIG_SCHEMA = yaml.safe_load(schema)


def check_config_keys(values, schema, prefix=""):
    """Refuse keys the schema does not know (a misspelt key would leave its default in
    force without a word), naming the known ones and the closest."""
    known = list(schema["properties"])
    for key, value in values.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {prefix + close[0]!r}?)" if close else ""
            raise WorkflowError(
                f"Config key {prefix + key!r} is unknown{hint}; the keys are "
                f"{', '.join(prefix + k for k in known)}"
            )
        if "properties" in schema["properties"][key] and isinstance(value, dict):
            check_config_keys(value, schema["properties"][key], f"{prefix}{key}.")


def check_config_integers(values, schema, prefix=""):
    """Integer settings must be ints: JSON Schema counts 1000.0 as an integer, and Snakemake
    reads `--config x=1e3` as 1000.0, which the shell scripts then get as '1000.0'."""
    for key, spec in schema["properties"].items():
        value = values.get(key)
        whole = isinstance(value, int) and not isinstance(value, bool)
        if spec.get("type") == "integer" and key in values and not whole:
            raise WorkflowError(
                f"Config {prefix}{key}: {value!r} must be a whole number written in digits "
                "(1000, not 1e3 or 1000.0)"
            )
        if "properties" in spec and isinstance(value, dict):
            check_config_integers(value, spec, f"{prefix}{key}.")


check_config_keys(config, CONFIG_SCHEMA)
check_config_integers(config, CONFIG_SCHEMA)
validate(config, schema="../schemas/config.schema.yaml")

# Planning a large run creates millions of long-lived objects (jobs, files) and little cyclic
# garbage; with CPython's default thresholds the collector scans them over and over: a quarter
# of the CPU of a 3,000-sample dry run. Collected rarely instead (young generation every
# million allocations), which keeps memory bounded in long runs.
gc.set_threshold(1_000_000, 10, 10)

SCRIPTS = Path(workflow.basedir) / "scripts"
MARK_DUPLICATES = config["mark_duplicates"]


def load_script(name):
    """A Python script of scripts/ as a module: the checks it runs in jobs, run here too."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


fastq = load_script("check_fastq")


def path_problem(path):
    """Why a path from the sheet, the folder or the config cannot be used, or None."""
    wildcards = get_wildcard_names(path)
    if wildcards:
        return (
            f"{path} contains {{{sorted(wildcards)[0]}}}, which Snakemake reads as a wildcard: "
            "rename the file or link it under a name without braces around a word"
        )
    return storage_problem(path)


def file_identity(path):
    """The same file under two spellings (./x, a symlink, a hard link) has one identity."""
    if in_storage(path):
        return ("storage", os.path.normpath(path))
    stat = os.stat(path)
    return (stat.st_dev, stat.st_ino)


def check_fastq_file(record, column):
    path = record[column]
    problem = path_problem(path)
    if problem is None and not in_storage(path):
        if not os.path.exists(path):
            problem = f"file not found: {path}"
        elif reason := fastq.first_record_problem(path):
            problem = f"{path} {reason}"
    if problem:
        raise WorkflowError(f"{record['_where']}, column {column}: {problem}")


def check_output_names(units):
    """Refuse rows whose outputs would collide: a unit twice in one sample, samples differing
    only in case (one folder on case-insensitive file systems), and two sample/unit pairs with
    one report name ({sample}_{unit} in MultiQC)."""
    seen = {}
    for record in units:
        sample, unit, where = record["sample"], record["unit"], record["_where"]
        other = seen.setdefault(("unit", sample, unit), record)
        if other is not record:
            raise WorkflowError(
                f"{where}: sample {sample!r} lists unit {unit!r} more than once "
                f"(also {other['_where']})"
            )
        other = seen.setdefault(("sample", sample.lower()), record)
        if other["sample"] != sample:
            raise WorkflowError(
                f"{where}: samples {other['sample']!r} and {sample!r} differ only in case; "
                "their outputs would collide on case-insensitive file systems "
                f"(also {other['_where']})"
            )
        other = seen.setdefault(("report", f"{sample}_{unit}".lower()), record)
        if other is not record:
            raise WorkflowError(
                f"{where}: sample/unit {sample}/{unit} and {other['sample']}/{other['unit']} "
                f"give the same report name ({other['_where']})"
            )


def check_fastq_files(units):
    """Refuse missing, empty or malformed FASTQs, fq1 = fq2, and a file listed twice unless
    allow_shared_fastq; files are compared by identity, not by spelling."""
    seen = {}
    for record in units:
        for column in ("fq1", "fq2"):
            check_fastq_file(record, column)
        if file_identity(record["fq1"]) == file_identity(record["fq2"]):
            raise WorkflowError(
                f"{record['_where']}: fq1 {record['fq1']} and fq2 {record['fq2']} are the "
                "same file"
            )
        if config["allow_shared_fastq"]:
            continue
        for column in ("fq1", "fq2"):
            first, first_column = seen.setdefault(
                file_identity(record[column]), (record, column)
            )
            if first is not record:
                raise WorkflowError(
                    f"{record['_where']}, column {column}: {record[column]} is the same file "
                    f"as {first[first_column]} ({first['_where']}, column {first_column}); "
                    "its reads would count twice (set allow_shared_fastq: true if that is "
                    "intended)"
                )


def load_units():
    """Checked units, sorted by sample and unit."""
    check_shipped_to_remote_jobs(config["samples"])
    if config.get("reads_dir"):
        units = discover_units(config["reads_dir"])
    else:
        units = read_sheet(config["samples"])
    check_output_names(units)
    check_fastq_files(units)
    return sorted(units, key=lambda record: (record["sample"], record["unit"]))


def check_reference(path):
    problem = path_problem(path)
    if problem:
        raise WorkflowError(f"Reference genome: {problem}")
    if in_storage(path):
        return
    if not os.path.exists(path):
        raise WorkflowError(f"Reference genome not found: {path}")
    problem = reference_problem(path)
    if problem:
        raise WorkflowError(f"Reference genome {path} {problem}")


def check_platform(platform):
    if not NAME.is_valid(platform):
        raise WorkflowError(f"Config platform {platform!r} {NAME_RULE}")


def shell_words(option, text):
    """Extra tool options from the config, split like a shell would and each word quoted: the
    words reach the tool as written, with no expansion or command substitution."""
    try:
        return " ".join(shlex.quote(word) for word in shlex.split(text))
    except ValueError as error:
        raise WorkflowError(f"Config {option}: {error} in {text!r}") from None


config["reference"] = data_asset_input(config["reference"])
check_platform(config["platform"])
UNITS = load_units()
check_reference(config["reference"])
stage_local_inputs(
    [*(r["fq1"] for r in UNITS), *(r["fq2"] for r in UNITS), config["reference"]]
)
# Lookups built once (input functions and params run per job: thousands in a large dry run).
UNIT = {(r["sample"], r["unit"]): r for r in UNITS}
SAMPLE_UNITS = {}
for unit_record in UNITS:
    SAMPLE_UNITS.setdefault(unit_record["sample"], []).append(unit_record["unit"])
SAMPLES = sorted(SAMPLE_UNITS)
# The index is named after the reference file, reduced to characters safe in any path.
GENOME = re.sub(
    r"[^A-Za-z0-9._-]",
    "_",
    re.sub(r"\.(fa|fasta|fna)(\.gz)?$", "", Path(config["reference"]).name),
)
INDEX = f"results/index/{GENOME}"
NAME_PATTERN = (
    SHEET_SCHEMA["$defs"]["name"]["pattern"].removeprefix("^").removesuffix("$")
)


wildcard_constraints:
    sample=NAME_PATTERN,
    unit=NAME_PATTERN,
    read="R1|R2",


def unit_fastq(wildcards):
    """The FASTQ of one read of one unit (R1 -> fq1, R2 -> fq2)."""
    column = "fq1" if wildcards.read == "R1" else "fq2"
    return UNIT[(wildcards.sample, wildcards.unit)][column]


def unit_pair(wildcards):
    record = UNIT[(wildcards.sample, wildcards.unit)]
    return [record["fq1"], record["fq2"]]


def sample_units(sample):
    return SAMPLE_UNITS[sample]


def read_group(wildcards):
    """@RG with an ID unique per unit; names are validated, so no quoting is needed."""
    record = UNIT[(wildcards.sample, wildcards.unit)]
    library = record.get("library") or wildcards.sample
    platform = record.get("platform") or config["platform"]
    rg_id = f"{wildcards.sample}.{wildcards.unit}"
    return rf"@RG\tID:{rg_id}\tSM:{wildcards.sample}\tLB:{library}\tPL:{platform}\tPU:{rg_id}"


def reference_size_mb(path):
    """Approximate uncompressed size, for choosing the index algorithm and its resources."""
    if not os.path.exists(path):
        return 0
    return os.path.getsize(path) * (4 if fastq.is_gzip(path) else 1) / 1e6


def fastqc_outputs():
    return [
        f"results/qc/fastqc/{r['sample']}/{r['sample']}_{r['unit']}_{read}_fastqc.zip"
        for r in UNITS
        for read in ("R1", "R2")
    ]
