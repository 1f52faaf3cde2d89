"""The node-local input cache: one download per node and blob version, never a stale one.

Jobs on one node are separate providers sharing the cache folder (as AZ_BATCH_NODE_SHARED_DIR
gives them); downloads are counted at a real HTTP relay in front of Azurite.
"""

import hashlib
import os
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from snakemake_storage_plugin_azureml.listing import BlobEntry
from snakemake_storage_plugin_azureml.node_cache import (
    BATCH_SHARED_DIR_ENV,
    CACHE_FOLDER,
    NodeCache,
    _digest,
    _lock_of,
    _locked,
    cache_root,
)
from snakemake_storage_plugin_azureml.stats import TransferStats

Q = "azureml://datastores/workspaceblobstore/paths"


@pytest.fixture
def node_job(storage_provider, storage_proxy, storage_container, azurite, tmp_path, monkeypatch):
    """Factory: the storage provider of one more job on the node (own local folder, shared
    cache), reading through the counting relay."""
    monkeypatch.delenv(BATCH_SHARED_DIR_ENV, raising=False)
    jobs = iter(range(1000))

    def make(**given):
        settings = {"node_cache": str(tmp_path / "node-shared"), "node_cache_min_bytes": 1}
        return storage_provider(
            storage_container,
            account_url=storage_proxy.endpoint(azurite.account),
            local_prefix=tmp_path / f"job{next(jobs)}",
            **(settings | given),
        )

    return make


def blob_reads(proxy, name: str) -> int:
    """GETs of the blob's bytes (HEADs only read properties)."""
    return proxy.count(lambda m, p: m == "GET" and name in p and "comp=" not in p)


def test_unchanged_blob_is_served_from_the_node_and_changed_content_is_a_miss(
    node_job, storage_proxy, storage_service, storage_container
):
    index = storage_service.get_blob_client(storage_container, "ref/genome.fa.bwt")
    index.upload_blob(b"old index " * 1000)

    first = node_job()
    obj = first.object(f"{Q}/ref/genome.fa.bwt")
    obj.retrieve_object()
    second = node_job().object(f"{Q}/ref/genome.fa.bwt")
    second.retrieve_object()

    assert second.local_path().read_bytes() == b"old index " * 1000
    assert blob_reads(storage_proxy, "ref/genome.fa.bwt") == 1
    assert (first.stats.cache_misses, second.provider.stats.cache_hits) == (1, 1)
    assert second.provider.stats.downloaded_bytes == 0
    assert os.path.samefile(obj.local_path(), second.local_path())  # one copy on the node
    assert second.local_path().stat().st_mode & 0o777 == 0o444

    index.upload_blob(b"new index!" * 1000, overwrite=True)  # same path, same size
    third = node_job().object(f"{Q}/ref/genome.fa.bwt")
    third.retrieve_object()

    assert third.local_path().read_bytes() == b"new index!" * 1000
    assert third.provider.stats.cache_misses == 1
    assert blob_reads(storage_proxy, "ref/genome.fa.bwt") == 2
    assert obj.local_path().read_bytes() == b"old index " * 1000  # a running job's copy stays
    (kept,) = first.node_cache._entries()  # the old version was dropped: no one can hit it
    assert os.path.samefile(kept.path, third.local_path())


def test_concurrent_retrievals_on_one_node_download_once(
    node_job, storage_proxy, storage_service, storage_container
):
    data = os.urandom(1 << 20) * 20  # 20 MiB: three ranges
    storage_service.get_blob_client(storage_container, "ref/big.idx").upload_blob(data)
    jobs = [node_job().object(f"{Q}/ref/big.idx") for _ in range(6)]
    start = threading.Barrier(len(jobs))

    def retrieve(obj):
        start.wait()
        obj.retrieve_object()
        return hashlib.md5(obj.local_path().read_bytes()).hexdigest()

    with ThreadPoolExecutor(len(jobs)) as pool:
        digests = list(pool.map(retrieve, jobs))

    assert digests == [hashlib.md5(data).hexdigest()] * len(jobs)
    assert blob_reads(storage_proxy, "ref/big.idx") == 3  # the ranges of ONE download
    assert sum(j.provider.stats.cache_misses for j in jobs) == 1
    assert sum(j.provider.stats.cache_hits for j in jobs) == len(jobs) - 1


def test_small_inputs_and_runs_without_a_cache_folder_download_as_before(
    node_job, storage_proxy, storage_service, storage_container
):
    storage_service.get_blob_client(storage_container, "s/reads.txt").upload_blob(b"ACGT")
    for settings in [{"node_cache_min_bytes": 1024}] * 2 + [{"node_cache": None}] * 2:
        obj = node_job(**settings).object(f"{Q}/s/reads.txt")
        obj.retrieve_object()
        assert obj.local_path().read_bytes() == b"ACGT"
        assert obj.provider.stats.cache_hits == obj.provider.stats.cache_misses == 0
    assert blob_reads(storage_proxy, "s/reads.txt") == 4
    assert obj.provider.node_cache is None


def test_the_batch_shared_dir_wins_over_the_setting(tmp_path):
    batch = {BATCH_SHARED_DIR_ENV: str(tmp_path / "batch")}
    assert cache_root(batch, str(tmp_path / "own")) == tmp_path / "batch" / CACHE_FOLDER
    assert cache_root({}, str(tmp_path / "own")) == tmp_path / "own"
    assert cache_root({}, None) is None


# -- eviction (pure: the download is a local write) -----------------------------------------


def entry(name: str, size: int, etag: str = "0x1") -> BlobEntry:
    return BlobEntry(name=name, size=size, mtime=0.0, etag=etag)


def writer(content: bytes):
    def download(path: Path) -> None:
        partial = path.with_name(f".{path.name}.partial-x{threading.get_ident()}")
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(content)
        os.replace(partial, path)

    return download


def cache_size(cache: NodeCache) -> int:
    return sum(e.size for e in cache._entries())


def test_eviction_keeps_the_cap_least_recently_used_first(tmp_path):
    cache = NodeCache(tmp_path / "cache", max_bytes=250, min_bytes=0, stats=TransferStats())
    for name in ("a", "b"):
        cache.retrieve(name, entry(name, 100), tmp_path / "job" / name, writer(b"x" * 100))
    paths = {Path(e.path).parent: e.path for e in cache._entries()}
    a, b = (paths[cache.root / digest] for digest in map(_digest, ("a", "b")))
    os.utime(_lock_of(a), (100, 100))
    os.utime(_lock_of(b), (200, 200))
    cache.retrieve("a", entry("a", 100), tmp_path / "job2" / "a", writer(b"?"))  # a hit: used now
    cache.retrieve("c", entry("c", 100), tmp_path / "job" / "c", writer(b"y" * 100))

    assert cache_size(cache) <= 250
    assert a.exists() and not b.exists()  # b was the least recently used
    assert cache.stats.cache_evictions == 1
    assert (tmp_path / "job2" / "a").read_bytes() == b"x" * 100
    for name in ("a", "b", "c"):  # the jobs' links keep their bytes
        assert (tmp_path / "job" / name).stat().st_size == 100


def test_an_entry_in_use_is_never_evicted(tmp_path):
    cache = NodeCache(tmp_path / "cache", max_bytes=150, min_bytes=0, stats=TransferStats())
    cache.retrieve("busy", entry("busy", 100), tmp_path / "j1", writer(b"b" * 100))
    busy = cache._entries()[0].path
    with _locked(_lock_of(busy)):  # another worker is linking it right now
        cache.retrieve("new", entry("new", 100), tmp_path / "j2", writer(b"n" * 100))
        assert busy.exists()
    cache.evict()
    assert not busy.exists() and cache_size(cache) <= 150


def test_readers_racing_eviction_always_get_the_whole_file(tmp_path):
    cache = NodeCache(tmp_path / "cache", max_bytes=3000, min_bytes=0, stats=TransferStats())
    contents = {f"blob{i}": bytes([65 + i]) * 1000 for i in range(8)}
    rng = random.Random(7)
    picks = [rng.choice(sorted(contents)) for _ in range(120)]

    def read(n_name: tuple[int, str]) -> bool:
        n, name = n_name
        dest = tmp_path / "jobs" / f"{n}" / name
        cache.retrieve(name, entry(name, 1000), dest, writer(contents[name]))
        return dest.read_bytes() == contents[name]

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(read, enumerate(picks)))
    assert cache_size(cache) <= 3000
    assert cache.stats.cache_evictions > 0 and cache.stats.cache_hits > 0
