"""The local Azure ML service over an HTTPS Azurite, and a workflow folder with a data set, for
the benchmarks that run the executor."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aml_local.azurite import Azurite  # noqa: E402
from aml_local.launcher import AmlService  # noqa: E402
from tests.fixtures.workflow import copy_workflow, git_track  # noqa: E402


@contextmanager
def local_aml(folder: Path, nodes: int, startup_s: float) -> Iterator[tuple[AmlService, Azurite]]:
    """Azurite and the service under `folder`, a cluster of `nodes` nodes whose allocations
    take `startup_s`; this process's environment set as a user's would be for the executor."""
    azurite = Azurite(location=folder / "azurite", tls_dir=folder / "tls")
    azurite.start()
    try:
        service = AmlService(azurite, folder / "state", max_nodes=nodes, node_startup_s=startup_s)
        with service.running():
            os.environ.update(service.executor_environment())
            yield service, azurite
    finally:
        azurite.stop()


def workflow(folder: Path, data: Path, split_fastq: int) -> Path:
    """The workflow with the data linked in (local inputs: the run uploads them), its sheet
    and config tracked by git as remote jobs need."""
    copy_workflow(folder)
    shutil.copytree(data, folder / "data", copy_function=os.link)
    sheet = (data / "samples.tsv").read_text().replace(f"{data}/", "data/")
    (folder / "config" / "samples.tsv").write_text(sheet)
    (folder / "config" / "bench.yaml").write_text(
        f"samples: config/samples.tsv\nreference: data/reference.fa\nsplit_fastq: {split_fastq}\n"
    )
    git_track(folder)
    return folder
