"""One workflow folder, one place on the datastore: the aml profile's prefix names only a
datastore, and each folder gets its own folder there (aml_bridge/model/folder_prefix.py)."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from aml_bridge.admin.cli_settings import DEFAULT_PREFIX
from aml_bridge.model.folder_prefix import ID_FILE, folder_id, folder_prefix
from aml_local.launcher import INHERITED_CLOUD_ENV
from tests.executor.conftest import FAST_STATUS
from tests.executor.test_e2e_profile import prepare
from tests.fixtures.workflow import copy_workflow, make_demo_data, snakemake


def test_each_folder_gets_its_own_prefix_kept_across_runs(tmp_path):
    one, two = tmp_path / "a" / "exp", tmp_path / "b" / "exp"  # same folder name
    first = folder_prefix(DEFAULT_PREFIX, one)
    assert first.startswith(f"{DEFAULT_PREFIX}exp-") and first != folder_prefix(DEFAULT_PREFIX, two)
    assert folder_prefix(DEFAULT_PREFIX, one) == first  # the id is kept in the folder
    assert (one / ID_FILE).read_text().strip() == first.rsplit("-", 1)[1]


def test_a_prefix_with_a_path_is_used_as_given(tmp_path):
    given = "azureml://datastores/workspaceblobstore/paths/shared_run"
    assert folder_prefix(given, tmp_path) == given
    assert not (tmp_path / ID_FILE).exists()


def test_a_damaged_id_file_is_named_not_replaced(tmp_path):
    (tmp_path / ID_FILE).parent.mkdir(parents=True)
    (tmp_path / ID_FILE).write_text("not an id\n")
    with pytest.raises(ValueError, match=r"folder_id holds 'not an id'"):
        folder_id(tmp_path)


def sq_names(bam: Path) -> list[str]:
    header = subprocess.run(
        ["samtools", "view", "-H", str(bam)], capture_output=True, text=True, check=True
    ).stdout
    return [f.removeprefix("SN:") for line in header.splitlines() if line.startswith("@SQ")
            for f in line.split("\t") if f.startswith("SN:")]  # fmt: skip


def bam_contigs(aml_run, prefix: str, dest: Path) -> list[str]:
    """The @SQ names of the BAM of sample A under `prefix` on the datastore."""
    path = prefix.split("/paths/", 1)[1]
    dest.write_bytes(
        aml_run.service.container().download_blob(f"{path}/results/mapped/A.bam").readall()
    )
    return sq_names(dest)


def test_two_folders_with_different_references_each_get_their_own_bam(
    tmp_path, aml_run, monkeypatch
):
    """The same relative in/ref.fa, a renamed contig and an older mtime in the second folder:
    with the profile's prefix each folder's BAM comes from its own reference (with one shared
    prefix the second run reported 'Nothing to be done' over the first one's BAM)."""
    data = make_demo_data(tmp_path / "demo", "--pairs", "200", "--genome-size", "10000")
    reference = (data / "reference.fa").read_text()
    row = "A\tL001\tdata/reads/A_L001_R1.fastq.gz\tdata/reads/A_L001_R2.fastq.gz"
    args = [
        "--profile", "workflow_profiles/aml", *FAST_STATUS,
        "--storage-azureml-account-url", aml_run.account_url,
        "--storage-azureml-container", aml_run.container,
        "--configfile", "config/aml.yaml", "--retries", "0", "results/mapped/A.bam",
    ]  # fmt: skip
    folders = {}
    for contig, name in (("first", "one"), ("second", "two")):
        wf = copy_workflow(tmp_path / name / "exp")
        (wf / "data").mkdir()
        (wf / "data" / "reads").symlink_to(data / "reads")
        (wf / "in").mkdir()
        ref = wf / "in" / "ref.fa"
        ref.write_text(reference.replace(">", f">{contig}_"))  # every contig renamed
        prepare(wf, [row], "in/ref.fa")
        folders[contig] = wf
    old = os.stat(folders["first"] / "in" / "ref.fa").st_mtime - 3600
    os.utime(folders["second"] / "in" / "ref.fa", (old, old))
    for contig, wf in folders.items():
        proc = snakemake(wf, *args)
        prefix = folder_prefix(DEFAULT_PREFIX, wf)
        assert f"Storage prefix of this folder: {prefix}" in proc.stderr
        names = bam_contigs(aml_run, prefix, tmp_path / f"{contig}.bam")
        assert names and all(n.startswith(f"{contig}_") for n in names), names

    # The second folder given the first one's prefix is refused before it uploads its ref.fa
    # or submits a job.
    first = folder_prefix(DEFAULT_PREFIX, folders["first"])
    jobs = len(aml_run.run_jobs())
    monkeypatch.delenv(INHERITED_CLOUD_ENV, raising=False)  # set by the SDK client above
    proc = snakemake(folders["second"], *args, "--default-storage-prefix", first, check=False)
    assert proc.returncode != 0
    assert (
        f"storage prefix {first} holds the outputs of another workflow folder, "
        f"{socket.gethostname()}:{folders['first']} (folder id "
        f"{folder_id(folders['first'])})" in proc.stderr
    ), proc.stderr[-3000:]
    assert "--aml-share-prefix" in proc.stderr
    path = first.split("/paths/", 1)[1]
    ref = aml_run.service.container().download_blob(f"{path}/in/ref.fa").readall().decode()
    assert ">first_" in ref and ">second_" not in ref
    assert len(aml_run.run_jobs()) == jobs

    # Shared on purpose: its ref.fa differs from the blob, so despite its older mtime the BAM
    # is rebuilt from it (it used to stay the first folder's).
    monkeypatch.delenv(INHERITED_CLOUD_ENV, raising=False)
    shared = snakemake(
        folders["second"], *args, "--default-storage-prefix", first, "--aml-share-prefix"
    )
    assert f"is shared with {socket.gethostname()}:{folders['first']}" in shared.stderr
    names = bam_contigs(aml_run, first, tmp_path / "shared.bam")
    assert names and all(n.startswith("second_") for n in names), names
