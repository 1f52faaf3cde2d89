"""The storage plugin shipped to jobs: its content-addressed folder, published once to Azurite,
importable from a downloaded copy alone, and what a job's Python runs (local service)."""

import site
import subprocess
import sys
from pathlib import Path

import pytest

from aml_bridge.model.plugin_bundle import package_files, plugin_bundle, publish
from aml_bridge.model.specs.common import run_tag_key
from snakemake_storage_plugin_azureml.query import InvalidQuery
from tests.fixtures.workflow import snakemake

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "azureml://datastores/workspaceblobstore/paths/wf/out"
FILES = {"snakemake_storage_plugin_azureml/__init__.py": b"", "x/y.py": b"1"}


def test_folder_is_named_by_content_below_the_storage_prefix():
    bundle = plugin_bundle(PREFIX + "/", FILES)
    assert bundle.folder.datastore == "workspaceblobstore"
    assert bundle.folder.path.startswith("wf/out/.snakemake/aml/plugins/")
    assert bundle.uri == f"azureml://datastores/workspaceblobstore/paths/{bundle.folder.path}/"
    assert bundle == plugin_bundle(PREFIX, dict(reversed(FILES.items())))
    for changed in ({**FILES, "x/y.py": b"2"}, {**FILES, "x/z.py": b"1"}):
        assert plugin_bundle(PREFIX, changed).folder != bundle.folder


def test_prefix_must_be_a_datastore_path():
    with pytest.raises(InvalidQuery):
        plugin_bundle("s3://bucket/wf", FILES)


def test_package_files_are_the_plugin_sources():
    files = package_files()
    assert "snakemake_storage_plugin_azureml/provider.py" in files
    assert all(name.endswith(".py") for name in files)


IMPORT_CHECK = """
import sys
root, folder, *site_packages = sys.argv[1:]
sys.path[:] = [folder, *sys.path[1:], *site_packages]  # the standard library stays
assert root not in sys.path
from snakemake_interface_storage_plugins.registry import StoragePluginRegistry
StoragePluginRegistry().get_plugin("azureml")  # found by Snakemake's own discovery
import snakemake_storage_plugin_azureml.blobstore  # with its Azure SDK imports
print(sys.modules["snakemake_storage_plugin_azureml"].__file__)
"""


def test_published_once_then_importable_from_the_downloaded_folder(
    storage_provider, storage_container, storage_proxy, azurite, tmp_path
):
    provider = storage_provider(storage_container, storage_proxy.endpoint(azurite.account))
    bundle = plugin_bundle(PREFIX, package_files())
    datastore = provider.datastore(bundle.folder.datastore)
    publish(bundle, datastore)
    blobs = {e.name: e.etag for e in datastore.folder(bundle.folder.path)}
    assert set(blobs) == {f"{bundle.folder.path}/{name}" for name in bundle.files}
    assert provider.stats.uploaded_bytes == sum(len(d) for d in bundle.files.values())

    storage_proxy.reset()
    publish(bundle, datastore)
    assert storage_proxy.count(lambda method, path: method in ("PUT", "DELETE")) == 0
    assert {e.name: e.etag for e in datastore.folder(bundle.folder.path)} == blobs

    folder = tmp_path / "snakemake_plugins"
    datastore.retrieve_folder(bundle.folder.path, folder)
    # -S: no site-packages .pth files, so not this project's editable install either
    proc = subprocess.run(
        [sys.executable, "-S", "-c", IMPORT_CHECK, str(ROOT), str(folder), *site.getsitepackages()],
        cwd=tmp_path,
        env={},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).parent == folder / "snakemake_storage_plugin_azureml"


WHERE_SNAKEFILE = """
rule where:
    output:
        "where.txt",
    shell:
        "python -c 'import snakemake_storage_plugin_azureml as p; print(p.__file__)' > {output}"
"""


def test_jobs_run_the_plugin_from_their_input(aml_run, tmp_path):
    (tmp_path / "Snakefile").write_text(WHERE_SNAKEFILE)
    snakemake(tmp_path, *aml_run.args("--aml-run-id", "plugins1"))
    (job,) = aml_run.run_jobs(run_tag_key("plugins1"))
    assert job.inputs["snakemake_plugins"].path.endswith("/")
    path = aml_run.prefix.split("/paths/", 1)[1]
    where = aml_run.service.container().download_blob(f"{path}/where.txt").readall().decode()
    assert "/inputs/snakemake_plugins/snakemake_storage_plugin_azureml/" in where
