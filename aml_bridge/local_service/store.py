"""Resources kept in memory and mirrored to one JSON file each, so a restart keeps the state."""

from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote


class Store:
    """Documents by kind ("jobs", "environments", ...) and key ("name" or "name/version")."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.RLock()
        self._docs: dict[str, dict[str, dict[str, Any]]] = {}
        self._load()

    def _load(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for kind_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            docs = self._docs.setdefault(kind_dir.name, {})
            files = sorted(kind_dir.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
            for path in files:
                docs[unquote(path.stem)] = json.loads(path.read_text())

    def _path(self, kind: str, key: str) -> Path:
        return self.root / kind / f"{quote(key, safe='')}.json"

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._docs.setdefault(kind, {})[key] = copy.deepcopy(doc)
            path = self._path(kind, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{threading.get_ident()}")
            tmp.write_text(json.dumps(doc))
            os.replace(tmp, path)
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
        """Shallow-merge `change` into a document's `properties` under the lock; return the result."""
        with self._lock:
            doc = self._docs[kind][key]
            merged = {**doc, "properties": {**doc["properties"], **change}}
            return self.put(kind, key, merged)
