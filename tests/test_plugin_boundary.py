"""The executor and the workflow reach the storage plugin's run state through its one public
handle (run_storage), never through its internals."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "snakemake_storage_plugin_azureml"
IMPORT = re.compile(rf"^\s*(?:from|import)\s+{PLUGIN}(?:\.(\w+))?", re.MULTILINE)
HANDLE = "run_storage"
# Tools that hold no run state: query syntax, datastore clients, the probe, retry policy.
STATELESS_TOOLS = {"query", "blobstore", "probe", "retry"}


def plugin_imports() -> dict[str, set[str]]:
    """{file: plugin modules it imports} over aml_bridge/, the executor entry point,
    workflow/rules/."""
    sources = [
        *(ROOT / "aml_bridge").rglob("*.py"),
        *(ROOT / "snakemake_executor_plugin_aml").rglob("*.py"),
        *(ROOT / "workflow" / "rules").glob("*.smk"),
        ROOT / "workflow" / "Snakefile",
    ]
    found = {}
    for path in sources:
        modules = {m or "" for m in IMPORT.findall(path.read_text())}
        if modules:
            found[str(path.relative_to(ROOT))] = modules
    return found


def test_run_state_is_imported_only_through_the_public_handle():
    imports = plugin_imports()
    internals = {
        path: modules - {HANDLE, "", *STATELESS_TOOLS}
        for path, modules in imports.items()
        if modules - {HANDLE, "", *STATELESS_TOOLS}
    }
    assert internals == {}
    users = {path for path, modules in imports.items() if HANDLE in modules}
    assert {
        "aml_bridge/model/settings.py",
        "aml_bridge/model/job_storage.py",
        "workflow/rules/storage.smk",
    } <= users
