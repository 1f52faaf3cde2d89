"""Counters of bytes moved, so a rerun can be shown to transfer nothing."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class TransferStats:
    """Bytes moved by this provider (what a rerun must keep at zero)."""

    uploaded_bytes: int = 0
    downloaded_bytes: int = 0
    skipped_uploads: int = 0
    cache_hits: int = 0  # retrievals the node cache served (node_cache.py)
    cache_misses: int = 0  # retrievals the node cache downloaded (counted in downloaded_bytes)
    cached_bytes: int = 0  # bytes the node cache served instead of a download
    cache_evictions: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)
