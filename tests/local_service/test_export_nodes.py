"""Pipeline jobs with several nodes, submitted by the real SDK: a node whose input is bound to
another node's output (`${{parent.jobs.<node>.outputs.x}}`) runs after it and reads what it
wrote; a node after a failed one never runs; nodes waiting for each other are refused (a
binding to a node that does not exist the SDK refuses itself)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
import yaml
from azure.core.exceptions import HttpResponseError

from tests.local_service.helpers import ensure_environment, wait_for
from tests.local_service.test_pipelines import items_folder

# Each item: records what the `--after` input holds when it runs (none for the first node);
# items named "bad*" fail.
ENTRY = """
import argparse
from pathlib import Path

ARGS = argparse.Namespace()

def init():
    parser = argparse.ArgumentParser()
    parser.add_argument("--after", default="")
    parser.add_argument("--seen", required=True)
    ARGS.__dict__.update(vars(parser.parse_known_args()[0]))

def run(mini_batch):
    for item in mini_batch:
        name = Path(item).name
        if name.startswith("bad"):
            raise RuntimeError(f"item {name} failed")
        after = Path(ARGS.after).read_text() if ARGS.after else "-"
        Path(ARGS.seen, name).write_text(after)
    return [Path(item).name for item in mini_batch]
"""


def node(env: str, code: Path, items: str, rows: str, seen: Path, after: str | None = None):
    arguments = f"--seen {seen}" + (" --after ${{inputs.after}}" if after else "")
    return {
        "type": "parallel",
        "compute": "azureml:genomics-cluster",
        "inputs": {"items": f"${{{{parent.inputs.{items}}}}}"}
        | ({"after": after} if after else {}),
        "outputs": {"rows": f"${{{{parent.outputs.{rows}}}}}"},
        "input_data": "${{inputs.items}}",
        "mini_batch_size": "1",
        "retry_settings": {"max_retries": 0, "timeout": 60},
        "mini_batch_error_threshold": 0,
        "task": {
            "type": "run_function", "code": str(code), "entry_script": "entry.py",
            "environment": env, "program_arguments": arguments,
            "append_row_to": "${{outputs.rows}}",
        },
    }  # fmt: skip


def two_nodes(
    service, ml, tmp_path: Path, first_items: list[str], after: str, first_after: str | None = None
):
    """(name, SDK job): node `second` takes `after` as an input (a binding to `first`)."""
    from azure.ai.ml import load_job

    code, seen = tmp_path / "code", tmp_path / "seen"
    code.mkdir(exist_ok=True)
    seen.mkdir(exist_ok=True)
    (code / "entry.py").write_text(ENTRY)
    env = ensure_environment(ml, parallel=True)
    name = f"nodes-{uuid.uuid4().hex[:8]}"
    spec = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
        "type": "pipeline",
        "name": name,
        "experiment_name": "pipelines",
        "inputs": {
            "a": {"type": "uri_folder", "path": items_folder(service, first_items)},
            "b": {"type": "uri_folder", "path": items_folder(service, ["b1.txt"])},
        },
        "outputs": {"rows_a": {"type": "uri_file"}, "rows_b": {"type": "uri_file"}},
        "jobs": {  # the downstream node first: order in the YAML means nothing
            "second": node(env, code, "b", "rows_b", seen, after),
            "first": node(env, code, "a", "rows_a", seen, first_after),
        },
    }
    return name, load_job(io.StringIO(yaml.safe_dump(spec)))


def test_a_node_runs_after_the_node_it_takes_an_input_from(aml_service, tmp_path):
    ml = aml_service.ml_client()
    bound = "${{parent.jobs.first.outputs.rows}}"
    name, job = two_nodes(aml_service, ml, tmp_path, ["a1.txt"], bound)
    ml.jobs.create_or_update(job)
    assert wait_for(ml, name, timeout_s=120).status == "Completed"
    # when `second` ran, `first` had completed and its rows were its input
    assert (tmp_path / "seen" / "b1.txt").read_text() == "a1.txt\n"


def test_a_node_after_a_failed_node_never_runs(aml_service, tmp_path):
    ml = aml_service.ml_client()
    bound = "${{parent.jobs.first.outputs.rows}}"
    name, job = two_nodes(aml_service, ml, tmp_path, ["bad1.txt"], bound)
    ml.jobs.create_or_update(job)
    assert wait_for(ml, name, timeout_s=120).status == "Failed"
    steps = {s.display_name: s.status for s in ml.jobs.list(parent_job_name=name)}
    assert steps == {"first": "Failed", "second": "Canceled"}
    assert not (tmp_path / "seen" / "b1.txt").exists()


def test_nodes_waiting_for_each_other_are_refused(aml_service, tmp_path):
    ml = aml_service.ml_client()
    bound = "${{parent.jobs.first.outputs.rows}}"
    cycle = "${{parent.jobs.second.outputs.rows}}"
    _, job = two_nodes(aml_service, ml, tmp_path, ["a1.txt"], bound, first_after=cycle)
    with pytest.raises(HttpResponseError, match="depend on each other in a cycle"):
        ml.jobs.create_or_update(job)
