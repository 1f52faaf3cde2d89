"""The repository's shape: Snakemake's recommended workflow/ layout, and aml_bridge's
packages importing one way (the executor never imports the CLI's code)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BRIDGE = ROOT / "aml_bridge"
# What each package of aml_bridge may import from aml_bridge (README "Layout").
ALLOWED = {
    "model": {"model"},
    "gateway": {"model", "gateway"},
    "executor": {"model", "gateway", "executor"},
    "admin": {"model", "gateway", "admin"},
}


def test_workflow_has_snakemakes_recommended_layout():
    workflow = ROOT / "workflow"
    assert (workflow / "Snakefile").is_file()
    for folder, pattern in [("rules", "*.smk"), ("envs", "*.yaml"), ("schemas", "*.yaml")]:
        assert list((workflow / folder).glob(pattern)), f"workflow/{folder} is empty"
    assert list((workflow / "scripts").glob("*.sh"))
    assert (ROOT / "config" / "config.yaml").is_file()
    assert (ROOT / ".snakemake-workflow-catalog.yml").is_file()
    assert not [name for name in ("Snakefile", "rules", "envs") if (ROOT / name).exists()]


def bridge_imports(path: Path) -> set[str]:
    """The aml_bridge packages a module imports (aml_bridge.<package>...)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found |= {n.split(".")[1] for n in names if n.startswith("aml_bridge.")}
    return found


def test_aml_bridge_holds_only_its_packages():
    loose = [p.name for p in BRIDGE.glob("*.py") if p.name != "__init__.py"]
    assert not loose, f"modules outside aml_bridge's packages: {loose}"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package):
    wrong = {
        str(path.relative_to(ROOT)): sorted(bridge_imports(path) - ALLOWED[package])
        for path in sorted((BRIDGE / package).rglob("*.py"))
    }
    assert not {k: v for k, v in wrong.items() if v}, f"{package} may import {ALLOWED[package]}"
