"""Parsing what a job refers to: azureml:// data URIs, ARM ids, command placeholders, durations."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import bad_request

_SHORT_URI = re.compile(r"^azureml://datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)$", re.I)
_LONG_URI = re.compile(
    r"^azureml://subscriptions/(?P<sub>[^/]+)/resource[gG]roups/(?P<rg>[^/]+)"
    r"/(?:providers/Microsoft\.MachineLearningServices/)?workspaces/(?P<ws>[^/]+)"
    r"/datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)$",
    re.I,
)
PLACEHOLDER = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z_][\w.]*)\s*\}\}")
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


@dataclass(frozen=True)
class DataRef:
    datastore: str
    path: str

    def uri(self) -> str:
        return f"azureml://datastores/{self.datastore}/paths/{self.path}"


def parse_data_uri(uri: str, where: str) -> DataRef:
    """A datastore path from a short or long `azureml://` URI; 400 naming `where` otherwise."""
    m = _SHORT_URI.match(uri) or _LONG_URI.match(uri)
    if not m or not m.group("path").strip("/"):
        raise bad_request(
            f"{where}: malformed data URI {uri!r}; expected "
            "azureml://datastores/<datastore>/paths/<path> (or the long workspace form)."
        )
    return DataRef(m.group("ds"), m.group("path"))


def placeholders(command: str) -> list[tuple[str, str]]:
    """(`inputs`|`outputs`, name) for every `${{...}}` in a command."""
    return [(m.group(1), m.group(2)) for m in PLACEHOLDER.finditer(command)]


def substitute(command: str, values: dict[tuple[str, str], str]) -> str:
    return PLACEHOLDER.sub(lambda m: values[(m.group(1), m.group(2))], command)


def duration_seconds(text: str) -> float:
    """ISO 8601 duration (as `limits.timeout`, e.g. "PT1H30M") in seconds."""
    m = _DURATION.match(text or "")
    if not m or not any(m.groupdict().values()):
        raise bad_request(f"properties.limits.timeout: {text!r} is not an ISO 8601 duration.")
    parts = {k: float(v) for k, v in m.groupdict().items() if v}
    return (
        parts.get("d", 0) * 86400
        + parts.get("h", 0) * 3600
        + parts.get("m", 0) * 60
        + parts.get("s", 0)
    )
