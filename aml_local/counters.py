"""The request log: method, templated route and status of every request, for tests to count."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RequestRecord:
    method: str
    route: str
    status: int


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def add(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self._records.append(RequestRecord(method, route, status))

    def records(self) -> list[dict]:
        with self._lock:
            return [asdict(r) for r in self._records]

    def counts(self) -> dict[str, int]:
        """`"METHOD route status"` → number of requests."""
        with self._lock:
            return dict(Counter(f"{r.method} {r.route} {r.status}" for r in self._records))

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
