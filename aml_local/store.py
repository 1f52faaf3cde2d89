"""Resources kept in memory and mirrored to one JSON file each, so a restart keeps the state.

Files are written behind, at most every `flush_interval_s`, by one thread: a job changes status
several times per second under load, and only its latest document needs to reach the disk.
`close()` writes everything still pending (a SIGTERM'd service loses nothing).
"""

from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote


class Store:
    """Documents by kind ("jobs", "environments", ...) and key ("name" or "name/version")."""

    def __init__(self, root: Path, flush_interval_s: float = 0.05) -> None:
        self.root = root
        self._lock = threading.RLock()
        self._docs: dict[str, dict[str, dict[str, Any]]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._load()
        self._interval = flush_interval_s
        self._closed = threading.Event()
        self._writer = threading.Thread(target=self._write_behind, name="store", daemon=True)
        self._writer.start()

    def _load(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for kind_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            docs = self._docs.setdefault(kind_dir.name, {})
            records = [json.loads(p.read_text()) for p in kind_dir.glob("*.json")]
            for record in sorted(records, key=lambda r: r["seq"]):
                docs[record["key"]] = record["doc"]

    def _path(self, kind: str, key: str) -> Path:
        return self.root / kind / f"{quote(key, safe='')}.json"

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._docs.setdefault(kind, {})[key] = copy.deepcopy(doc)
            self._dirty.add((kind, key))
            return copy.deepcopy(doc)

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            doc = self._docs.get(kind, {}).get(key)
            return copy.deepcopy(doc) if doc is not None else None

    def values(self, kind: str, prefix: str = "") -> list[dict[str, Any]]:
        """Documents of a kind in creation order, optionally only keys starting with `prefix`."""
        with self._lock:
            docs = self._docs.get(kind, {})
            return [copy.deepcopy(d) for k, d in docs.items() if k.startswith(prefix)]

    def update(self, kind: str, key: str, change: dict[str, Any]) -> dict[str, Any]:
        """Merge `change` into a document's `properties` (atomically); the updated document."""
        with self._lock:
            doc = self._docs[kind][key]
            return self.put(kind, key, {**doc, "properties": {**doc["properties"], **change}})

    def flush(self) -> None:
        with self._lock:
            pending = sorted(self._dirty)
            self._dirty.clear()
            order = {(kind, k): i for kind, docs in self._docs.items() for i, k in enumerate(docs)}
            records = [
                (kind, key, {"key": key, "seq": order[kind, key], "doc": self._docs[kind][key]})
                for kind, key in pending
            ]
            payloads = [(kind, key, json.dumps(record)) for kind, key, record in records]
        for kind, key, payload in payloads:
            path = self._path(kind, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(payload)
            os.replace(tmp, path)

    def close(self) -> None:
        self._closed.set()
        self._writer.join()
        self.flush()

    def _write_behind(self) -> None:
        while not self._closed.wait(self._interval):
            self.flush()
