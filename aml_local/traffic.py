"""Bytes read and written per blob, per job and per node: what a run really moves.

Every blob transfer of the local stack passes one of two places: the service's `/_blob/`
proxy (clients of the SDK and jobs whose storage plugin resolved the datastore through the
workspace) and the service's own transfers for a job (code snapshot and input bindings
downloaded, outputs and logs uploaded). Both record here. A request is attributed by its
User-Agent: the azureml storage plugin on a node names its job and node in it
(`aml-job/<run id> aml-node/<node id>`, what Azure Storage's resource logs also record), so a
read by a job is told from one by the submit host ("client"). Only blob bodies count: Get Blob
responses as read, Put Blob and Put Block requests as written; listings and properties are
counted as requests. Served as `GET /_local/traffic` (`DELETE` clears).
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

CLIENT = "client"  # a request from no job: the submit host, the SDK, a test
_JOB = re.compile(r"\baml-job/(\S+)")
_NODE = re.compile(r"\baml-node/(\S+)")
# Query operations whose body is not the blob's content (listing, properties, metadata, ...).
_BODY_OPS = {None, "block"}


@dataclass(frozen=True)
class Caller:
    """Who moved the bytes: a job on a node, or the client."""

    job: str = CLIENT
    node: str = CLIENT

    @classmethod
    def from_user_agent(cls, user_agent: str) -> Caller:
        job, node = _JOB.search(user_agent or ""), _NODE.search(user_agent or "")
        return cls(job.group(1) if job else CLIENT, node.group(1) if node else CLIENT)


NOBODY = Caller()  # what the service moves for no job


@dataclass
class _Counts:
    read: int = 0
    written: int = 0
    requests: int = 0


def blob_of(target: str) -> tuple[str, str, str | None] | None:
    """(container, blob name, `comp` operation) of a proxied `/<account>/<container>/<blob>?...`
    request target; None for account or container requests."""
    parts = urlsplit(target)
    segments = parts.path.lstrip("/").split("/", 2)
    if len(segments) < 3 or not segments[2]:
        return None
    comp = parse_qs(parts.query).get("comp", [None])[0]
    return segments[1], unquote(segments[2]), comp


class Traffic:
    """Thread-safe byte counters keyed by (job, node, container, blob), with each blob's size
    as read (what reading it once costs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str, str], _Counts] = defaultdict(_Counts)
        self._sizes: dict[tuple[str, str], int] = {}  # a blob's whole size, as last read

    def saw_size(self, container: str, blob: str, size: int) -> None:
        with self._lock:
            self._sizes[(container, blob)] = size

    def add(self, caller: Caller, container: str, blob: str, *, read: int = 0, written: int = 0):
        with self._lock:
            counts = self._counts[(caller.job, caller.node, container, blob)]
            counts.read += read
            counts.written += written
            counts.requests += 1

    def add_request(
        self, method: str, target: str, status: int, sent: int, received: int, user_agent: str,
        content_range: str | None = None,
    ) -> None:  # fmt: skip
        """One proxied request: `sent` request body bytes, `received` response body bytes; a
        ranged read's `Content-Range` (`bytes a-b/total`) gives the blob's whole size."""
        found = blob_of(target)
        if found is None:
            return
        container, blob, comp = found
        body = comp in _BODY_OPS and 200 <= status < 300
        if body and method == "GET":
            total = (content_range or "").rpartition("/")[2]
            self.saw_size(container, blob, int(total) if total.isdigit() else received)
        self.add(
            Caller.from_user_agent(user_agent),
            container,
            blob,
            read=received if body and method == "GET" else 0,
            written=sent if body and method == "PUT" else 0,
        )

    def report(self) -> dict:
        """Rows per (job, node, container, blob) and totals, as JSON."""
        with self._lock:
            rows = [
                {"job": j, "node": n, "container": c, "blob": b, **vars(counts),
                 "size": self._sizes.get((c, b))}
                for (j, n, c, b), counts in sorted(self._counts.items())
            ]  # fmt: skip
        totals = {k: sum(r[k] for r in rows) for k in ("read", "written", "requests")}
        return {"blobs": rows, "totals": totals}

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
            self._sizes.clear()
