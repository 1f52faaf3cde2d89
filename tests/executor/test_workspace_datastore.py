"""The storage plugin finds the datastore through the workspace when no account is given."""

import subprocess
import sys

from aml_bridge.model.job_storage import DATASTORES_ENV
from aml_bridge.model.specs.common import run_tag_key
from tests.executor.test_e2e_small import routes, run_id_of
from tests.fixtures.workflow import snakemake

ACCOUNT_ARGS = ("--storage-azureml-account-url", "--storage-azureml-container")


def without_account(args: list[str]) -> list[str]:
    out = list(args)
    for flag in ACCOUNT_ARGS:
        i = out.index(flag)
        del out[i : i + 2]
    return out


def test_datastore_located_once_by_the_workspace_and_handed_to_jobs(
    aml_run, small_workflow, monkeypatch
):
    monkeypatch.delenv("SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_URL", raising=False)
    monkeypatch.delenv("SNAKEMAKE_STORAGE_AZUREML_CONTAINER", raising=False)
    proc = snakemake(small_workflow, *without_account(aml_run.args()))
    names = {n.rsplit("/", 1)[-1] for n in aml_run.blob_names()}
    assert {"a.txt", "b.txt"} <= names
    # one datastore GET for the whole run, however many files it touched
    assert routes(aml_run.service, "GET", "/datastores/{name}") == 1
    jobs = aml_run.run_jobs(run_tag_key(run_id_of(proc.stderr)))
    assert len(jobs) == 4 and {j.status for j in jobs} == {"Completed"}
    # jobs get the location instead of asking the workspace themselves
    located = {j.environment_variables.get(DATASTORES_ENV) for j in jobs}
    assert len(located) == 1
    assert located.pop().startswith("workspaceblobstore=https://127.0.0.1:")


def test_missing_datastore_fails_at_start_naming_it(aml_run, small_workflow, monkeypatch):
    args = without_account(aml_run.args())
    i = args.index("--default-storage-prefix")
    args[i + 1] = "azureml://datastores/nosuchstore/paths/x"
    proc = snakemake(small_workflow, *args, "--aml-datastore", "nosuchstore", check=False)
    assert proc.returncode != 0
    assert "datastore 'nosuchstore' does not exist in workspace" in proc.stderr
    assert routes(aml_run.service, "PUT", "/jobs/{name}") == 0


def test_dry_run_asks_the_workspace_once_and_submits_nothing(aml_run, small_workflow):
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "snakemake", "-n",
         *without_account(aml_run.args())],
        cwd=small_workflow, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "make" in proc.stdout
    assert "azure.ai.ml" not in proc.stderr  # the lookup is one plain GET
    assert routes(aml_run.service, "GET", "/datastores/{name}") == 1
    assert routes(aml_run.service, "PUT", "/jobs/{name}") == 0


def test_workspace_given_as_flags_and_profile_keys_locates_the_datastore(
    aml_run, small_workflow, monkeypatch
):
    """No SNAKEMAKE_AML_* variables: the storage plugin takes the workspace the executor's
    settings name (a profile key, command-line flags), as the executor itself does."""
    s = aml_run.service
    for key in ("SUBSCRIPTION", "RESOURCE_GROUP", "WORKSPACE", "ENDPOINT"):
        monkeypatch.delenv(f"SNAKEMAKE_AML_{key}")
    profile = small_workflow / "ws_profile"
    profile.mkdir()
    (profile / "config.yaml").write_text(f"aml-resource-group: {s.resource_group}\n")
    flags = ["--aml-subscription", s.subscription_id, "--aml-workspace", s.workspace,
             "--aml-endpoint", s.base_url, "--profile", str(profile)]  # fmt: skip
    proc = snakemake(small_workflow, "-n", *without_account(aml_run.args()), *flags)
    assert "make" in proc.stdout
    assert routes(s, "GET", "/datastores/{name}") == 1
