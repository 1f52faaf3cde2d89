"""Inputs of the workflow: the units table (from a sample sheet or a folder of FASTQ pairs) and
the reference, checked before any job runs so that bad input fails early and names its file.
"""

import csv
import gzip
import os
import re
import subprocess
from pathlib import Path

import pandas as pd
from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

validate(config, schema="../config/schemas/config.schema.yaml")

NAME = re.compile(r"^[A-Za-z0-9._-]+$")
# Illumina file names: {name}_R1.fastq.gz or {name}_R1_001.fastq.gz (and .fq, uncompressed).
ILLUMINA_READ = re.compile(
    r"^(?P<name>.+)_(?P<read>R[12])(?P<suffix>(?:_001)?\.f(?:ast)?q(?:\.gz)?)$"
)
# bcl2fastq/BCL Convert names carry sample number and lane: {sample}_S1_L001.
ILLUMINA_LANE = re.compile(r"^(?P<sample>.+)_S\d+_(?P<lane>L\d{3})$")


def in_storage(path):
    """Whether a file is left to its storage to check: a path with a scheme (azureml://, ...),
    or, under a default storage provider (the aml profile, remote jobs), any file that is not
    here; Snakemake then reports it as a missing input if the storage lacks it too."""
    if "://" in path:
        return True
    default_storage = workflow.storage_settings.default_storage_provider
    return bool(default_storage) and not os.path.exists(path)


def open_text(path):
    """Open plain or gzip text by content, not by name."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
    return gzip.open(path, "rt") if magic == b"\x1f\x8b" else open(path)


def first_char(path):
    """The first character of a (possibly gzip) text file; '' when it is empty or unreadable."""
    try:
        with open_text(path) as handle:
            return handle.read(1)
    except (OSError, EOFError, UnicodeDecodeError):
        return ""


def read_sheet(path):
    """Read and schema-validate the sample sheet; every value is a string, blank cells of
    optional columns are absent (''), and quotes are literal characters, as in any TSV.
    """
    if not os.path.isfile(path):
        raise WorkflowError(f"Sample sheet not found: {path}")
    units = pd.read_csv(
        path,
        sep="\t",
        dtype=str,
        comment="#",
        keep_default_na=False,
        quoting=csv.QUOTE_NONE,
    ).map(str.strip)
    if units.empty:
        raise WorkflowError(f"Sample sheet {path} lists no read pairs")
    for row, record in enumerate(units.to_dict("records"), start=2):
        bad = [
            col
            for col in ("sample", "unit", "library", "platform")
            if col in record and record[col] and not NAME.match(record[col])
        ]
        if bad:
            raise WorkflowError(
                f"Sample sheet {path}, line {row}: {bad[0]} {record[bad[0]]!r} may only "
                "contain letters, digits, '.', '_' and '-'"
            )
    validate(units.replace("", None), schema="../config/schemas/samples.schema.yaml")
    return units


def discover_units(folder):
    """Pair Illumina-named FASTQs in a folder; lanes of one sample become its units."""
    if not os.path.isdir(folder):
        raise WorkflowError(f"Reads folder not found: {folder}")
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
        for value in (sample, unit):
            if not NAME.match(value):
                raise WorkflowError(
                    f"{pair['R1']}: sample name {value!r} may only contain letters, digits, "
                    "'.', '_' and '-'"
                )
        rows.append(
            {"sample": sample, "unit": unit, "fq1": pair["R1"], "fq2": pair["R2"]}
        )
    return pd.DataFrame(rows)


def check_units(units, origin):
    """Reject duplicate units, colliding report names and missing or empty FASTQs."""
    dup = units[units.duplicated(["sample", "unit"], keep=False)]
    if not dup.empty:
        first = dup.iloc[0]
        raise WorkflowError(
            f"{origin}: sample {first['sample']!r} lists unit {first['unit']!r} more than once"
        )
    report_names = units["sample"].str.cat(units["unit"], sep="_")
    clash = units[report_names.duplicated(keep=False)]
    if not clash.empty:
        pairs = ", ".join(f"{s}/{u}" for s, u in zip(clash["sample"], clash["unit"]))
        raise WorkflowError(f"{origin}: sample/unit {pairs} give the same report name")
    for record in units.to_dict("records"):
        where = f"{origin}: sample {record['sample']}, unit {record['unit']}"
        if record["fq1"] == record["fq2"]:
            raise WorkflowError(
                f"{where}: fq1 and fq2 are the same file {record['fq1']}"
            )
        for col in ("fq1", "fq2"):
            path = record[col]
            if in_storage(path):
                continue
            if not os.path.isfile(path):
                raise WorkflowError(f"{where}: {col} file not found: {path}")
            if first_char(path) != "@":
                raise WorkflowError(f"{where}: {col} {path} is empty or not FASTQ")


def default_storage_main_process():
    """Whether this is the main process of a run whose data lives in a default storage (the
    aml profile). The executor is not known while the Snakefile is parsed; the default storage
    is, and it means that jobs run elsewhere and see only the storage and the shipped sources.
    """
    return bool(
        workflow.storage_settings.default_storage_provider and workflow.is_main_process
    )


def check_shipped_to_remote_jobs(sheet):
    """Remote jobs (Azure ML) rebuild the DAG from the sources Snakemake ships them, which are
    the git-tracked files: fail here, not in every job, when the sheet would be missing.
    """
    if not default_storage_main_process():
        return
    if config.get("reads_dir"):
        raise WorkflowError(
            "reads_dir works for local runs only: remote jobs cannot list a local folder. "
            "Write a sample sheet (samples=...) and track it with git."
        )
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", sheet], capture_output=True
    )
    if tracked.returncode != 0 or os.path.relpath(sheet).startswith(".."):
        raise WorkflowError(
            f"Sample sheet {sheet} must be inside the working directory and tracked by git "
            f"(git add {sheet}): remote jobs receive only git-tracked sources."
        )


def load_units():
    check_shipped_to_remote_jobs(config["samples"])
    if config.get("reads_dir"):
        origin = config["reads_dir"]
        units = discover_units(origin)
    else:
        origin = config["samples"]
        units = read_sheet(origin)
    check_units(units, origin)
    return units.set_index(["sample", "unit"], drop=False).sort_index()


def check_reference(path):
    if in_storage(path):
        return
    if not os.path.isfile(path):
        raise WorkflowError(f"Reference genome not found: {path}")
    if first_char(path) != ">":
        raise WorkflowError(
            f"Reference genome {path} is not FASTA (it must start with '>')"
        )


def stage_local_inputs(paths):
    """Under a default storage, local inputs are handed to the storage plugin: it uploads them
    before the first job (never in a dry run) and skips those already there unchanged. Other
    storage plugins cannot do this; their inputs must be in the storage already."""
    if not default_storage_main_process():
        return
    provider = workflow.storage_registry.default_storage_provider
    stage = getattr(provider, "stage_local_files", None)
    local = [path for path in paths if "://" not in path and os.path.exists(path)]
    if stage is not None and local:
        stage(workflow.storage_settings.default_storage_prefix, local)


def data_asset_input(value):
    """`azureml:NAME:VERSION` or `azureml:NAME@latest`: a registered data asset, read from the
    datastore path it names (resolved once by the azureml storage plugin, version logged);
    a data asset that does not exist fails here, naming it. Anything else is a path."""
    from snakemake_storage_plugin_azureml.data_assets import is_data_asset, resolve

    if not is_data_asset(value):
        return value
    try:
        asset = resolve(value)
    except ValueError as e:
        raise WorkflowError(str(e)) from None
    if workflow.is_main_process:
        logger.info(f"{value}: data asset {asset.name}:{asset.version} at {asset.uri}")
    return storage(asset.uri)


config["reference"] = data_asset_input(config["reference"])
units = load_units()
check_reference(config["reference"])
stage_local_inputs([*units["fq1"], *units["fq2"], config["reference"]])
SAMPLES = sorted(units["sample"].unique())
GENOME = re.sub(r"\.(fa|fasta|fna)(\.gz)?$", "", Path(config["reference"]).name)
INDEX = f"results/index/{GENOME}"


wildcard_constraints:
    sample=r"[A-Za-z0-9._-]+",
    unit=r"[A-Za-z0-9._-]+",
    read="R1|R2",


def unit_fastq(wildcards):
    """The FASTQ of one read of one unit (R1 -> fq1, R2 -> fq2)."""
    column = "fq1" if wildcards.read == "R1" else "fq2"
    return units.loc[(wildcards.sample, wildcards.unit), column]


def unit_pair(wildcards):
    record = units.loc[(wildcards.sample, wildcards.unit)]
    return [record["fq1"], record["fq2"]]


def sample_units(sample):
    return list(units.loc[sample, "unit"])


def read_group(wildcards):
    """@RG with an ID unique per unit; names are validated, so no quoting is needed."""
    record = units.loc[(wildcards.sample, wildcards.unit)]
    library = record.get("library") or wildcards.sample
    platform = record.get("platform") or config["platform"]
    rg_id = f"{wildcards.sample}.{wildcards.unit}"
    return rf"@RG\tID:{rg_id}\tSM:{wildcards.sample}\tLB:{library}\tPL:{platform}\tPU:{rg_id}"


def fastq_suffix(path):
    """FastQC decides on decompression by the file name, so the link keeps the real suffix."""
    return ".fastq.gz" if path.endswith(".gz") else ".fastq"


def reference_size_mb(path):
    """Approximate uncompressed size, for choosing the index algorithm and its resources."""
    size = os.path.getsize(path) if os.path.exists(path) else 0
    return size * (4 if path.endswith(".gz") else 1) / 1e6


def fastqc_outputs():
    return [
        f"results/qc/fastqc/{sample}/{unit}_{read}_fastqc.zip"
        for sample, unit in units.index
        for read in ("R1", "R2")
    ]
