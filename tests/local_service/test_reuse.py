"""Pipeline node reuse, submitted by the real SDK: a pipeline submitted again with the same
nodes, inputs and output paths reuses its completed nodes (nothing runs) unless
`settings.force_rerun`; a node whose input changed runs again, and so do the nodes after it."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import yaml

from tests.local_service.helpers import ensure_environment, wait_for
from tests.local_service.test_export_nodes import ENTRY, node
from tests.local_service.test_pipelines import items_folder


def pipeline(ml, tmp_path: Path, a_items: str, b_items: str, out: str, **settings):
    """(name, SDK job): `second` takes the rows of `first`; outputs at fixed paths under `out`."""
    from azure.ai.ml import load_job

    code, seen = tmp_path / "code", tmp_path / "seen"
    code.mkdir(exist_ok=True)
    seen.mkdir(exist_ok=True)
    (code / "entry.py").write_text(ENTRY)
    env = ensure_environment(ml, parallel=True)
    name = f"reuse-{uuid.uuid4().hex[:8]}"
    spec = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
        "type": "pipeline",
        "name": name,
        "experiment_name": "pipelines",
        "settings": settings,
        "inputs": {
            "a": {"type": "uri_folder", "path": a_items},
            "b": {"type": "uri_folder", "path": b_items},
        },
        "outputs": {
            rows: {"type": "uri_file", "path": f"{out}{rows}.txt", "mode": "rw_mount"}
            for rows in ("rows_a", "rows_b")
        },
        "jobs": {
            "first": node(env, code, "a", "rows_a", seen),
            "second": node(env, code, "b", "rows_b", seen, "${{parent.jobs.first.outputs.rows}}"),
        },
    }
    return name, load_job(io.StringIO(yaml.safe_dump(spec)))


def _run(ml, tmp_path: Path, *args, **settings) -> dict[str, dict]:
    """Submit, wait for Completed; each node's run properties (cleared marks before)."""
    for mark in (tmp_path / "seen").glob("*"):
        mark.unlink()
    name, job = pipeline(ml, tmp_path, *args, **settings)
    ml.jobs.create_or_update(job)
    assert wait_for(ml, name, timeout_s=120).status == "Completed"
    steps = list(ml.jobs.list(parent_job_name=name))
    assert all(s.status == "Completed" for s in steps)
    return {s.display_name: dict(s.properties or {}) for s in steps}


def _ran(tmp_path: Path) -> set[str]:
    return {p.name for p in (tmp_path / "seen").glob("*")}


def test_completed_nodes_are_reused_unless_force_rerun_or_changed_inputs(aml_service, tmp_path):
    ml = aml_service.ml_client()
    a, b = items_folder(aml_service, ["a1.txt"]), items_folder(aml_service, ["b1.txt"])
    out = f"azureml://datastores/workspaceblobstore/paths/reuse-{uuid.uuid4().hex[:8]}/"
    first = _run(ml, tmp_path, a, b, out)
    assert _ran(tmp_path) == {"a1.txt", "b1.txt"}
    assert not any(p.get("azureml.isreused") for p in first.values())

    again = _run(ml, tmp_path, a, b, out)  # the same pipeline again: nothing runs
    assert _ran(tmp_path) == set()
    assert {n: p.get("azureml.isreused") for n, p in again.items()} == {
        "first": "true", "second": "true"
    }  # fmt: skip
    rows = aml_service.container().download_blob(f"{out.split('/paths/')[1]}rows_b.txt")
    assert rows.readall().decode() == "b1.txt\n"  # the earlier run's output stands

    forced = _run(ml, tmp_path, a, b, out, force_rerun=True)
    assert _ran(tmp_path) == {"a1.txt", "b1.txt"}
    assert not any(p.get("azureml.isreused") for p in forced.values())

    # another input for `first`: it runs, and `second` after it (its input is new data)
    changed = _run(ml, tmp_path, items_folder(aml_service, ["a2.txt"]), b, out)
    assert _ran(tmp_path) == {"a2.txt", "b1.txt"}
    assert not any(p.get("azureml.isreused") for p in changed.values())
