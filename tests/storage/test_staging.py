"""Local inputs staged for the datastore: planned from local facts, uploaded once, skipped while
unchanged (Azurite behind the counting proxy)."""

import asyncio
import os
from pathlib import Path

import pytest
from snakemake.io import IOCache
from snakemake_interface_common.exceptions import WorkflowError

from snakemake_storage_plugin_azureml.run_storage import RunStorage, StagedUpload
from tests.fixtures.storage import write

PREFIX = "azureml://datastores/workspaceblobstore/paths/run"


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    """A working directory with two FASTQs and a reference, as the sample sheet names them."""
    monkeypatch.chdir(tmp_path)
    files = {
        "data/reads/A_R1.fastq.gz": os.urandom(3000),
        "data/reads/A_R2.fastq.gz": os.urandom(3000),
        "data/ref.fa": b">chr1\nACGT\n",
    }
    for name, data in files.items():
        write(tmp_path / name, data)
    return files


@pytest.fixture
def proxied(storage_proxy, storage_provider, storage_container, azurite):
    """Factory: the run's storage handle, as the workflow and the executor get it."""

    def make() -> RunStorage:
        provider = storage_provider(
            storage_container, account_url=storage_proxy.endpoint(azurite.account)
        )
        return RunStorage(provider, PREFIX)

    return make


def blob_names(storage_service, container: str) -> dict[str, bytes]:
    blobs = storage_service.get_container_client(container)
    return {b.name: blobs.download_blob(b.name).readall() for b in blobs.list_blobs()}


def test_staged_inputs_are_planned_without_upload(inputs, proxied, storage_proxy):
    """What a dry run sees: the inputs exist with their local size and mtime; the whole
    inventory is one listing and nothing is written."""
    run = proxied()
    run.stage(inputs)
    cache = IOCache(max_wait_time=10)
    objects = {name: run.provider.object(f"{PREFIX}/{name}") for name in inputs}
    absent = run.provider.object(f"{PREFIX}/results/mapped/A.bam")

    async def inventory_all():
        for obj in [*objects.values(), absent]:
            await obj.inventory(cache)

    asyncio.run(inventory_all())
    assert storage_proxy.count() == 1  # one listing, no HEAD, no PUT
    for name, obj in objects.items():
        key = obj.cache_key()
        assert cache.exists_in_storage[key] is True
        assert cache.size[key] == len(inputs[name])
        assert cache.mtime[key].storage() == os.stat(name).st_mtime
        assert obj.exists() and obj.size() == len(inputs[name])
    assert absent.cache_key() not in dict(cache.exists_in_storage)
    assert storage_proxy.count() == 1
    assert run.provider.stats.uploaded_bytes == 0


def test_upload_once_then_skip_unchanged_then_resend_changed(
    inputs, proxied, storage_proxy, storage_service, storage_container
):
    run = proxied()
    run.stage(inputs)
    total = sum(len(d) for d in inputs.values())
    assert run.upload_staged() == StagedUpload(files=3, uploaded_bytes=total)
    assert run.upload_staged() == StagedUpload(files=3, uploaded_bytes=0)  # once per run
    assert run.provider.stats.uploaded_bytes == total
    stored = blob_names(storage_service, storage_container)
    assert stored == {f"run/{name}": data for name, data in inputs.items()}
    uploaded = run.provider.object(f"{PREFIX}/data/ref.fa")
    assert uploaded._blob().mtime == os.stat("data/ref.fa").st_mtime  # local mtime kept

    # the next run: one listing decides, nothing is hashed or sent
    storage_proxy.reset()
    rerun = proxied()
    rerun.stage(inputs)
    assert rerun.upload_staged() == StagedUpload(files=3, uploaded_bytes=0)
    assert rerun.provider.stats.skipped_uploads == len(inputs)
    assert storage_proxy.count() == 1

    # touched (older) but identical: no upload; the blob keeps its mtime, notes the file's
    before = uploaded._blob().mtime
    os.utime("data/ref.fa", (1_700_000_000, 1_700_000_000))
    write(Path("data/reads/A_R1.fastq.gz"), os.urandom(3000))  # same size, new content
    third = proxied()
    third.stage(inputs)
    assert third.upload_staged() == StagedUpload(files=3, uploaded_bytes=3000)
    touched = third.provider.object(f"{PREFIX}/data/ref.fa")._blob()
    assert (touched.mtime, touched.local_mtime) == (before, 1_700_000_000)
    stored = blob_names(storage_service, storage_container)
    assert stored["run/data/reads/A_R1.fastq.gz"] == Path("data/reads/A_R1.fastq.gz").read_bytes()


def test_changed_content_with_an_old_mtime_is_newer_than_what_was_built_from_it(
    inputs, proxied, storage_service, storage_container
):
    """Another reference under the same name, copied in with an old mtime: the datastore's
    copy, and what the run plans with, are newer than the index built from the old one, in
    this run and the next (also when this one stops before rebuilding the index)."""
    first = proxied()
    first.stage(inputs)
    first.upload_staged()
    index = first.provider.object(f"{PREFIX}/results/ref.fa.bwt")
    write(index.local_path(), b"index of the old reference")
    index.store_object()
    built = index.mtime()

    write(Path("data/ref.fa"), b">chr2\nTTTTGGGG\n")
    os.utime("data/ref.fa", (1_600_000_000, 1_600_000_000))
    second = proxied()
    second.stage(inputs)
    ref = second.provider.object(f"{PREFIX}/data/ref.fa")
    cache = IOCache(max_wait_time=10)
    asyncio.run(ref.inventory(cache))
    planned = cache.mtime[ref.cache_key()].storage()
    assert planned > built and ref.mtime() == planned
    second.upload_staged()
    blob = ref._blob()
    assert (blob.mtime, blob.local_mtime) == (planned, 1_600_000_000)
    stored = blob_names(storage_service, storage_container)
    assert stored["run/data/ref.fa"] == b">chr2\nTTTTGGGG\n"

    third = proxied()  # the next run, the index still not rebuilt: still out of date
    third.stage(inputs)
    assert third.provider.object(f"{PREFIX}/data/ref.fa").mtime() == planned
    third.upload_staged()
    assert third.provider.stats.uploaded_bytes == 0


@pytest.mark.parametrize("where", ["parent folder", "absolute path"])
def test_inputs_outside_the_working_directory_are_refused_by_name(
    where, tmp_path, monkeypatch, storage_provider, storage_container
):
    outside = tmp_path / "elsewhere" / "A_R1.fastq.gz"
    write(outside, b"reads")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    path = "../elsewhere/A_R1.fastq.gz" if where == "parent folder" else str(outside)
    run = RunStorage(storage_provider(storage_container), PREFIX)
    with pytest.raises(WorkflowError, match="outside the working directory") as error:
        run.stage([path])
    assert path in str(error.value)
