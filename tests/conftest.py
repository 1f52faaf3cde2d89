"""Shared test setup: every module in tests/fixtures/ is a pytest plugin (fixtures by topic)."""

from pathlib import Path

import pytest

# Fixture modules import each other; rewrite their asserts whichever is imported first.
pytest.register_assert_rewrite("tests.fixtures")

pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}"
    for p in (Path(__file__).parent / "fixtures").glob("*.py")
    if p.stem != "__init__"
)

# Fixtures that start a service (Azurite, the local Azure ML service) or a Snakemake run; a
# test using one, or a module calling the workflow helpers directly, is `slow`, so
# `make test-fast` (pytest -m "not slow") keeps the translation and unit tests a quick loop.
SLOW_FIXTURES = {
    "azurite", "aml_azurite", "storage_service", "storage_container", "storage_provider",
    "storage_proxy", "aml_service", "fresh_aml_service", "executor_service", "aml_run",
    "workflow", "small_workflow", "demo_data", "run_snakemake",
}  # fmt: skip
SLOW_HELPERS = {"copy_workflow", "snakemake", "start_snakemake", "make_demo_data", "AmlService"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        uses_helpers = module is not None and any(
            getattr(getattr(module, name, None), "__module__", "").startswith(
                ("tests.fixtures", "aml_local")
            )
            for name in SLOW_HELPERS
        )
        if uses_helpers or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
