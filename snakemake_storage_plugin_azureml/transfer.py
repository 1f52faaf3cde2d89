"""Move one file's bytes: parallel block upload with a whole-file Content-MD5, and a download
that is verified against size and Content-MD5 before it is renamed into place.

Put Block List does not compute Content-MD5, so the upload hashes the file while staging blocks
and sets it on commit; a later download (or a skipped re-upload) relies on it.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from azure.core import MatchConditions
from azure.storage.blob import BlobClient, ContentSettings

from .client import BLOCK_SIZE, RANGE_SIZE, SINGLE_PUT_LIMIT
from .errors import IntegrityError
from .listing import BlobEntry


@contextmanager
def _cancel_on_error(pending: deque[Future]) -> Iterator[None]:
    """On failure, drop queued chunk transfers instead of letting them run to no purpose."""
    try:
        yield
    except BaseException:
        for future in pending:
            future.cancel()
        raise


def file_md5(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def holds(entry: BlobEntry | None, path: Path, size: int, mtime: float) -> bool:
    """Whether the blob holds the content of local `path` (of `size` and `mtime`): the same
    size and recorded local mtime (no hashing, as rsync decides), or the same size and MD5."""
    if entry is None or entry.size != size:
        return False
    return entry.source_mtime == mtime or (entry.md5 is not None and entry.md5 == file_md5(path))


def upload_file(
    blob: BlobClient, path: Path, metadata: dict[str, str], max_concurrency: int
) -> str:
    """Upload `path` (overwriting), recording its MD5 and `metadata` (mtimes); return the MD5."""
    if path.stat().st_size <= SINGLE_PUT_LIMIT:
        return upload_bytes(blob, path.read_bytes(), metadata)
    return _upload_blocks(blob, path, metadata, max_concurrency)


def upload_bytes(blob: BlobClient, data: bytes, metadata: dict[str, str]) -> str:
    """One Put Blob; the service checks the transactional MD5 and stores it as Content-MD5."""
    md5 = hashlib.md5(data).digest()
    blob.upload_blob(
        data,
        overwrite=True,
        metadata=metadata,
        content_settings=ContentSettings(content_md5=bytearray(md5)),
        validate_content=True,
    )
    return md5.hex()


def _upload_blocks(
    blob: BlobClient, path: Path, metadata: dict[str, str], max_concurrency: int
) -> str:
    """Stage blocks in parallel while hashing sequentially; commit only if all staged."""
    token = uuid.uuid4().hex[:12]
    block_ids: list[str] = []
    md5 = hashlib.md5()
    pending: deque[Future] = deque()
    workers = max(1, max_concurrency)
    with (
        ThreadPoolExecutor(workers) as pool,
        open(path, "rb") as f,
        _cancel_on_error(pending),
    ):
        while chunk := f.read(BLOCK_SIZE):
            md5.update(chunk)
            block_ids.append(f"{token}-{len(block_ids):08d}")
            pending.append(pool.submit(blob.stage_block, block_ids[-1], chunk, len(chunk)))
            if len(pending) >= workers + 2:
                pending.popleft().result()
        while pending:
            pending.popleft().result()
    blob.commit_block_list(
        block_ids,
        metadata=metadata,
        content_settings=ContentSettings(content_md5=bytearray(md5.digest())),
    )
    return md5.hexdigest()


def download_file(blob: BlobClient, dest: Path, expected: BlobEntry, max_concurrency: int) -> None:
    """Download the blob version `expected` describes to `dest`, atomically and verified.

    The bytes go to a hidden temporary file next to `dest`; only a complete file whose size and
    MD5 match is renamed to `dest` (with the blob's mtime), so a cut transfer never looks done.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.parent / f".{dest.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        with open(partial, "wb") as f:
            received, md5 = _download_ranges(blob, f, expected, max(1, max_concurrency))
        if received != expected.size:
            raise IntegrityError(
                f"{expected.name}: received {received} bytes, the blob has {expected.size}"
            )
        if expected.md5 and md5 != expected.md5:
            raise IntegrityError(
                f"{expected.name}: MD5 of the received bytes {md5} differs from the blob's "
                f"Content-MD5 {expected.md5}"
            )
        os.utime(partial, (expected.mtime, expected.mtime))
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)


def _download_ranges(blob: BlobClient, f, expected: BlobEntry, workers: int) -> tuple[int, str]:
    """Fetch ranges in parallel, write and hash them in order (hashing overlaps the network)."""
    same_version = (
        {"etag": expected.etag, "match_condition": MatchConditions.IfNotModified}
        if expected.etag
        else {}
    )

    def fetch(offset: int) -> bytes:
        length = min(RANGE_SIZE, expected.size - offset)
        return blob.download_blob(offset=offset, length=length, **same_version).readall()

    md5 = hashlib.md5()
    received = 0
    offsets = iter(range(0, expected.size, RANGE_SIZE))
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(workers) as pool, _cancel_on_error(pending):
        pending.extend(pool.submit(fetch, o) for o in itertools.islice(offsets, workers + 2))
        while pending:
            data = pending.popleft().result()
            f.write(data)
            md5.update(data)
            received += len(data)
            for offset in itertools.islice(offsets, 1):
                pending.append(pool.submit(fetch, offset))
    return received, md5.hexdigest()
