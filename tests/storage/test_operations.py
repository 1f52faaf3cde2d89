"""Each storage operation against Azurite, checked with azure-storage-blob directly."""

import asyncio
import hashlib
import os
import time
from pathlib import Path

import pytest
from azure.storage.blob import ContentSettings
from snakemake.io import IOCache
from snakemake_interface_common.exceptions import WorkflowError

from tests.fixtures.storage import write

Q = "azureml://datastores/workspaceblobstore/paths"


def md5_of(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def blob_md5(container_client, name: str) -> str:
    return bytes(
        container_client.get_blob_client(name).get_blob_properties().content_settings.content_md5
    ).hex()


def test_100mb_round_trip_with_checksum(
    storage_provider, storage_container, storage_service, tmp_path
):
    provider = storage_provider(storage_container)
    obj = provider.object(f"{Q}/big/reads.bin")
    data = os.urandom(1 << 20) * 100  # 100 MiB, generated fast
    write(obj.local_path(), data)
    expected = hashlib.md5(data).hexdigest()

    obj.store_object()

    blobs = storage_service.get_container_client(storage_container)
    props = blobs.get_blob_client("big/reads.bin").get_blob_properties()
    assert props.size == len(data)
    assert bytes(props.content_settings.content_md5).hex() == expected  # set on Put Block List
    assert provider.stats.uploaded_bytes == len(data)

    obj.store_object()  # unchanged: nothing is sent again
    assert provider.stats.uploaded_bytes == len(data)
    assert provider.stats.skipped_uploads == 1

    stored_mtime = obj.mtime()
    obj.local_path().unlink()
    obj.retrieve_object()
    assert md5_of(obj.local_path()) == expected
    assert obj.local_path().stat().st_mtime == pytest.approx(stored_mtime, abs=1e-6)
    assert not [p for p in obj.local_path().parent.iterdir() if "partial" in p.name]


def test_store_skips_only_identical_content(storage_provider, storage_container, storage_service):
    provider = storage_provider(storage_container)
    obj = provider.object(f"{Q}/skip/a.txt")
    write(obj.local_path(), b"AAAA")
    obj.store_object()
    obj.store_object()
    assert (provider.stats.uploaded_bytes, provider.stats.skipped_uploads) == (4, 1)

    write(obj.local_path(), b"BBBB")  # same size, other content
    obj.store_object()
    assert provider.stats.uploaded_bytes == 8
    blob = storage_service.get_blob_client(storage_container, "skip/a.txt")
    assert blob.download_blob().readall() == b"BBBB"


def test_exists_mtime_size_checksum_and_touch(storage_provider, storage_container, storage_service):
    provider = storage_provider(storage_container)
    obj = provider.object(f"{Q}/meta/file.txt")
    assert not obj.exists()
    with pytest.raises(WorkflowError, match="does not exist"):
        obj.mtime()

    path = write(obj.local_path(), b"hello")
    os.utime(path, (1_700_000_000.25, 1_700_000_000.25))  # sub-second mtime survives the trip
    obj.store_object()
    assert obj.exists()
    assert obj.size() == 5
    assert obj.mtime() == 1_700_000_000.25
    assert obj.checksum() == "md5:" + hashlib.md5(b"hello").hexdigest()

    before = time.time()
    obj.touch()
    assert obj.mtime() >= before > 1_700_000_000.25
    blob = storage_service.get_blob_client(storage_container, "meta/file.txt")
    assert blob.download_blob().readall() == b"hello"


def test_touch_missing_object_is_an_error(storage_provider, storage_container):
    obj = storage_provider(storage_container).object(f"{Q}/meta/nothing")
    with pytest.raises(WorkflowError, match="does not exist"):
        obj.touch()


def test_directory_output_round_trip_mirrors_the_folder(
    storage_provider, storage_container, storage_service, tmp_path
):
    provider = storage_provider(storage_container)
    obj = provider.object(f"{Q}/out/qc")
    local = obj.local_path()
    write(local / "a.txt", b"a")
    write(local / "sub" / "b.txt", b"bb")
    write(local / "sub" / "c.txt", b"ccc")
    obj.store_object()
    blobs = storage_service.get_container_client(storage_container)
    assert sorted(b.name for b in blobs.list_blobs()) == [
        "out/qc/a.txt",
        "out/qc/sub/b.txt",
        "out/qc/sub/c.txt",
    ]
    assert obj.exists() and obj.size() == 0 and obj.local_footprint() == 6

    (local / "sub" / "c.txt").unlink()  # a rerun produced one file less
    obj.store_object()
    assert sorted(b.name for b in blobs.list_blobs()) == ["out/qc/a.txt", "out/qc/sub/b.txt"]

    fresh = storage_provider(storage_container, local_prefix=tmp_path / "elsewhere")
    again = fresh.object(f"{Q}/out/qc")
    again.retrieve_object()
    got = sorted(
        p.relative_to(again.local_path()).as_posix()
        for p in again.local_path().rglob("*")
        if p.is_file()
    )
    assert got == ["a.txt", "sub/b.txt"]
    assert (again.local_path() / "sub" / "b.txt").read_bytes() == b"bb"

    before = obj.mtime()
    obj.touch()
    assert obj.mtime() > before

    obj.remove()
    assert not obj.exists()
    assert list(blobs.list_blobs()) == []


def test_remove_file(storage_provider, storage_container):
    obj = storage_provider(storage_container).object(f"{Q}/rm/x.txt")
    write(obj.local_path(), b"x")
    obj.store_object()
    obj.remove()
    assert not obj.exists()


def test_retrieve_refuses_bytes_that_do_not_match_content_md5(
    storage_provider, storage_container, storage_service
):
    blob = storage_service.get_blob_client(storage_container, "bad/data.bin")
    blob.upload_blob(b"actual bytes")
    wrong = bytearray(hashlib.md5(b"other bytes!").digest())  # as if corrupted at rest
    blob.set_http_headers(content_settings=ContentSettings(content_md5=wrong))
    obj = storage_provider(storage_container).object(f"{Q}/bad/data.bin")
    with pytest.raises(WorkflowError, match="MD5"):
        obj.retrieve_object()
    assert not obj.local_path().exists()
    assert not list(obj.local_path().parent.glob("*partial*"))


def test_inventory_is_one_listing_for_a_folder(
    storage_proxy, storage_provider, storage_container, storage_service, azurite
):
    blobs = storage_service.get_container_client(storage_container)
    for i in range(30):
        blobs.upload_blob(f"inv/reads/s{i}.fq", b"x" * i)
    blobs.upload_blob("inv/reads/nested/deep.fq", b"deep")
    provider = storage_provider(
        storage_container, account_url=storage_proxy.endpoint(azurite.account)
    )
    cache = IOCache(max_wait_time=10)
    objects = [provider.object(f"{Q}/inv/reads/s{i}.fq") for i in range(30)]
    missing = provider.object(f"{Q}/inv/reads/absent.fq")

    async def inventory_all():
        for obj in [*objects, missing, provider.object(f"{Q}/inv/reads/nested/deep.fq")]:
            await obj.inventory(cache)

    asyncio.run(inventory_all())
    assert storage_proxy.list_requests() == 1
    assert storage_proxy.count() == 1
    for i, obj in enumerate(objects):
        key = obj.cache_key()
        assert cache.exists_in_storage[key] is True
        assert cache.size[key] == i
        assert cache.mtime[key].storage() > 0
    assert missing.get_inventory_parent() in cache.exists_in_storage.has_inventory
    assert missing.cache_key() not in dict(cache.exists_in_storage)
    nested = provider.object(f"{Q}/inv/reads/nested")
    assert cache.exists_in_storage[nested.cache_key()] is True


def test_inventory_covers_sibling_folders_of_a_workflow_prefix(
    storage_proxy, storage_provider, storage_container, storage_service, azurite
):
    """Outputs, logs and benchmarks sit in different folders under one prefix: one listing
    answers them all, including the files that do not exist yet."""
    blobs = storage_service.get_container_client(storage_container)
    blobs.upload_blob("run/results/a/x.bam", b"bam")
    blobs.upload_blob("run/logs/a/x.log", b"log")
    provider = storage_provider(
        storage_container, account_url=storage_proxy.endpoint(azurite.account)
    )
    cache = IOCache(max_wait_time=10)
    paths = ["results/a/x.bam", "logs/a/x.log", "benchmarks/a/x.tsv", "results/b/y.bam"]
    objects = [provider.object(f"{Q}/run/{p}") for p in paths]

    async def inventory_all():
        for obj in objects:
            await obj.inventory(cache)

    asyncio.run(inventory_all())
    assert storage_proxy.count() == 1
    present = dict(cache.exists_in_storage)
    assert [obj.cache_key() in present for obj in objects] == [True, True, False, False]
    assert {obj.get_inventory_parent() for obj in objects} <= cache.exists_in_storage.has_inventory


def test_several_datastores_and_unknown_name(
    storage_provider, storage_container, storage_service, azurite
):
    other = storage_container + "b"
    storage_service.create_container(other)
    try:
        provider = storage_provider(
            storage_container,
            datastore="raw",
            datastores=f"results={azurite.blob_endpoint}/{other}, refs={storage_container}",
        )
        for name in ("raw", "results", "refs"):
            obj = provider.object(f"azureml://datastores/{name}/paths/ds/{name}.txt")
            write(obj.local_path(), name.encode())
            obj.store_object()
        assert sorted(
            b.name for b in storage_service.get_container_client(storage_container).list_blobs()
        ) == ["ds/raw.txt", "ds/refs.txt"]
        assert [b.name for b in storage_service.get_container_client(other).list_blobs()] == [
            "ds/results.txt"
        ]
        with pytest.raises(WorkflowError, match="datastore 'nowhere' is not configured"):
            provider.object("azureml://datastores/nowhere/paths/x").exists()
    finally:
        storage_service.delete_container(other)


def test_connection_string_from_environment(tmp_path, azurite, storage_container, monkeypatch):
    from snakemake_storage_plugin_azureml import StorageProvider, StorageProviderSettings

    monkeypatch.delenv("SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_KEY", raising=False)
    monkeypatch.setenv("SNAKEMAKE_STORAGE_AZUREML_CONNECTION_STRING", azurite.connection_string)
    provider = StorageProvider(
        local_prefix=tmp_path,
        logger=None,
        settings=StorageProviderSettings(container=storage_container),
    )
    obj = provider.object(f"{Q}/cs/file.txt")
    write(obj.local_path(), b"via connection string")
    obj.store_object()
    assert obj.exists()


def test_empty_folder_output_and_glob(storage_provider, storage_container, tmp_path):
    provider = storage_provider(storage_container)
    empty = provider.object(f"{Q}/glob/empty_dir")
    empty.local_path().mkdir(parents=True)
    empty.store_object()
    assert empty.exists()
    again = storage_provider(storage_container, local_prefix=tmp_path / "other").object(
        f"{Q}/glob/empty_dir"
    )
    again.retrieve_object()
    assert again.local_path().is_dir()

    for sample in ("s1", "s2"):
        obj = provider.object(f"{Q}/glob/reads/{sample}.fq")
        write(obj.local_path(), sample.encode())
        obj.store_object()
    pattern = provider.object(f"{Q}/glob/reads/{{sample}}.fq")
    assert sorted(pattern.list_candidate_matches()) == [
        f"{Q}/glob/reads/s1.fq",
        f"{Q}/glob/reads/s2.fq",
    ]
