"""The executor stands apart from the `aml-genomics` CLI: loading it loads no admin code."""

import subprocess
import sys


def test_the_executor_imports_neither_the_cli_nor_its_workspace_admin():
    probe = (
        "import sys, aml_bridge.executor.executor; "
        "print(sorted(m for m in ('aml_bridge.gateway.workspace_admin', 'aml_bridge.admin.cli') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
