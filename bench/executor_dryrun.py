"""Dry run with the aml profile (storage on Azurite) vs a local dry run, on many samples.

Run: python3 bench/executor_dryrun.py [--samples 500] [--rounds 3]
Prints the median wall time of `snakemake --profile workflow_profiles/aml -n` and of
`snakemake -n` on the same workflow copy and sample sheet, in interleaved rounds of one run,
and their ratio (target <= 1.2).
The inputs are local, as before a first run: the aml dry run plans from them (uploading
nothing) and checks every output in the datastore with one listing; it talks to no Azure ML
service (none is started here). Starts and stops its own Azurite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aml_local.azurite import Azurite  # noqa: E402
from tests.fixtures.workflow import copy_workflow, git_track, write_fastq  # noqa: E402

CONTAINER = "bench-dryrun"
PREFIX = "azureml://datastores/workspaceblobstore/paths/bench"


def make_inputs(wf: Path, samples: int) -> None:
    data = wf / "data"
    data.mkdir()
    (data / "ref.fa").write_text(">chr1\n" + "ACGT" * 250 + "\n")
    rows = ["sample\tunit\tfq1\tfq2"]
    for i in range(samples):
        pair = [f"data/S{i}_R{r}.fastq.gz" for r in (1, 2)]
        for path in pair:
            write_fastq(wf / path, [f"r{i}"])
        rows.append(f"S{i}\t1\t{pair[0]}\t{pair[1]}")
    (data / "samples.tsv").write_text("\n".join(rows) + "\n")
    git_track(wf, "data/samples.tsv")


def create_container(azurite: Azurite) -> None:
    from azure.storage.blob import ContainerClient

    ContainerClient.from_connection_string(azurite.connection_string, CONTAINER).create_container()


def timed(cwd: Path, args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(["snakemake", *args], cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wf = copy_workflow(Path(tmp) / "wf")
        make_inputs(wf, args.samples)
        azurite = Azurite(location=Path(tmp) / "azurite")
        azurite.start()
        try:
            create_container(azurite)
            config = ["--config", "samples=data/samples.tsv", "reference=data/ref.fa"]
            env = {
                **os.environ,
                "SNAKEMAKE_STORAGE_AZUREML_CONNECTION_STRING": azurite.connection_string,
            }
            aml_args = [
                "-n", "--profile", "workflow_profiles/aml", *config,
                "--default-storage-prefix", PREFIX,
                "--storage-azureml-account-url", azurite.blob_endpoint,
                "--storage-azureml-container", CONTAINER,
            ]  # fmt: skip
            local, aml = [], []
            for _ in range(args.rounds):
                local.append(timed(wf, ["-n", *config], env))
                aml.append(timed(wf, aml_args, env))
        finally:
            azurite.stop()
    local_s, aml_s = statistics.median(local), statistics.median(aml)
    print(
        f"{args.samples} samples, median of {args.rounds} interleaved rounds: "
        f"local dry run {local_s:.1f} s, aml profile dry run {aml_s:.1f} s"
    )
    print(f"ratio aml / local: {aml_s / local_s:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
