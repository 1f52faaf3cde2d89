"""The datastore side of a group run as a parallel step: the members' manifests go up before
the pipeline job is submitted; its rows (the members that succeeded) and each member's log are
read when it ends. Through the azureml storage plugin's datastore, like the plugin bundle."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from aml_bridge.model.specs.parallel_step import ENTRY_SCRIPT
from aml_bridge.model.specs.pipeline import Member, PipelineJobSpec
from snakemake_storage_plugin_azureml.query import parse_query

if TYPE_CHECKING:
    from snakemake_storage_plugin_azureml.blobstore import Datastore

GROUPS = ".snakemake/aml/groups"


def member_code(folder: Path) -> Path:
    """A parallel step's code folder (the entry script alone) under `folder`."""
    code = folder / "member_code"
    code.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).with_name(ENTRY_SCRIPT), code / ENTRY_SCRIPT)
    return code


def group_root(prefix: str) -> str:
    """The folder under the default storage prefix where groups keep their files."""
    return f"{prefix.rstrip('/')}/{GROUPS}/"


class GroupFiles:
    def __init__(self, datastore_of) -> None:  # noqa: ANN001 - the storage provider's method
        self._datastore_of = datastore_of

    def _at(self, uri: str) -> tuple[Datastore, str]:
        location = parse_query(uri.rstrip("/"))
        return self._datastore_of(location.datastore), location.path

    def upload_manifests(self, spec: PipelineJobSpec) -> None:
        datastore, path = self._at(spec.members_uri)
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in spec.manifests().items():
                Path(tmp, name).write_bytes(data)
            datastore.store_folder(Path(tmp), path)

    def succeeded(self, spec: PipelineJobSpec) -> set[str]:
        """Ids of the members the step returned a row for (none when it wrote no rows)."""
        datastore, path = self._at(spec.results_uri)
        entry = datastore.stat(path)
        if entry is None:
            return set()
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp, "results.txt")
            datastore.retrieve_file(entry, local)
            return {line.split()[0] for line in local.read_text().splitlines() if line.strip()}

    def finished(self, spec: PipelineJobSpec) -> set[str]:
        """Ids of the members the step has finished so far (their `.ok` marks beside the logs,
        on the datastore while the step runs: the logs output is mounted read-write)."""
        datastore, path = self._at(spec.logs_uri)
        entries, _ = datastore.list(f"{path}/")
        names = (e.name.rsplit("/", 1)[-1] for e in entries)
        return {n.removesuffix(".ok") for n in names if n.endswith(".ok")}

    def member_times(self, spec: PipelineJobSpec) -> dict[str, list[tuple[float, float]]]:
        """Each member's runs in the step as (start, end) epoch seconds, from the `.times`
        files the entry script leaves beside the logs; members that never ran are absent."""
        datastore, path = self._at(spec.logs_uri)
        entries, _ = datastore.list(f"{path}/")
        found: dict[str, list[tuple[float, float]]] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for entry in (e for e in entries if e.name.endswith(".times")):
                member = entry.name.rsplit("/", 1)[-1].removesuffix(".times")
                local = Path(tmp, f"{member}.times")
                datastore.retrieve_file(entry, local)
                runs = [line.split() for line in local.read_text().splitlines()]
                found[member] = [(float(r[0]), float(r[1])) for r in runs if len(r) == 3]
        return found

    def member_log(self, spec: PipelineJobSpec, member: Member, dest: Path) -> Path | None:
        """The member's own log at dest, or None when the step left none."""
        datastore, path = self._at(f"{spec.logs_uri}{member.id}.log")
        entry = datastore.stat(path)
        if entry is None:
            return None
        dest.parent.mkdir(parents=True, exist_ok=True)
        datastore.retrieve_file(entry, dest)
        return dest
