"""Turn Azure SDK exceptions into one-line errors that name the datastore and the cause.

Auth failures, missing containers and unreachable endpoints are configuration problems and
are reported as such; nothing here ever prints a key, SAS token or connection string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from snakemake_interface_common.exceptions import WorkflowError

from .datastores import DatastoreTarget

_SECRET_PATTERNS = [
    re.compile(r"(?i)\b(sig|se|sv|sp|st|spr|srt|ss|sr|skoid|sktid)=[^&\s'\"]+"),
    re.compile(r"(?i)(AccountKey|SharedAccessSignature)=[^;\s'\"]+"),
    re.compile(r"(?i)(Authorization:?\s*['\"]?\s*)(SharedKey|Bearer)\s+[^\s'\",]+"),
]


class IntegrityError(Exception):
    """Transferred bytes do not match the blob's size or Content-MD5."""


class Redactor:
    """Removes known secret values and SAS/key-looking fragments from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub(lambda m: m.group(0).split("=")[0] + "=***", text)
        return text


def first_line(exc: BaseException, redact: Redactor, lines: int = 1, limit: int = 300) -> str:
    """The start of an exception's message, scrubbed of secrets and kept short."""
    kept = [line.strip() for line in str(exc).splitlines() if line.strip()][:lines]
    text = redact(" | ".join(kept) or type(exc).__name__)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(
    exc: BaseException, action: str, datastore: str, target: DatastoreTarget, redact: Redactor
) -> str:
    """A message saying what failed, where, and what to check."""
    where = f"datastore {datastore!r} (container {target.container!r} at {target.account_url})"
    reason = first_line(exc, redact)
    status = getattr(getattr(exc, "response", None), "status_code", None) or getattr(
        exc, "status_code", None
    )
    code = getattr(exc, "error_code", None) or ""
    code = getattr(code, "value", code)  # the SDK gives a StorageErrorCode enum or a str
    if isinstance(exc, IntegrityError):
        return f"{action}: data check failed for {where}: {reason}"
    if status in (401, 403):
        return (
            f"{action}: access denied by {where} (HTTP {status} {code}); the credential "
            f"({target.auth or 'unknown'}) was rejected or lacks permission"
        )
    if isinstance(exc, ClientAuthenticationError):
        reason = first_line(exc, redact, lines=8, limit=1500)  # the chain lists each attempt
        return (
            f"{action}: no usable credential for {where} ({target.auth or 'unknown'}): {reason}. "
            "Run 'az login', use a managed identity, or set an account key/SAS in the environment"
        )
    if status == 404 and code == "ContainerNotFound":
        return (
            f"{action}: container {target.container!r} of datastore {datastore!r} does not "
            f"exist at {target.account_url}"
        )
    if isinstance(exc, ServiceRequestError):
        return (
            f"{action}: cannot connect to {target.account_url} for {where}: {reason} "
            "(check the account URL and that the endpoint is reachable)"
        )
    if isinstance(exc, ServiceResponseError):
        return f"{action}: connection to {target.account_url} kept failing for {where}: {reason}"
    if isinstance(exc, HttpResponseError):
        return f"{action}: {where} answered HTTP {status} {code}: {reason}"
    return f"{action}: {type(exc).__name__} for {where}: {reason}"


@contextmanager
def reported(
    action: str, datastore: str, target: DatastoreTarget, redact: Redactor
) -> Iterator[None]:
    """Re-raise SDK and integrity errors as a `WorkflowError` with a clear, secret-free message."""
    try:
        yield
    except (AzureError, IntegrityError) as exc:
        raise WorkflowError(describe(exc, action, datastore, target, redact)) from None
