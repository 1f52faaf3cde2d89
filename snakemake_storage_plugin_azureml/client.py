"""Build a container client with this plugin's retry policy and timeouts."""

from __future__ import annotations

import os
from collections.abc import Mapping

from azure.storage.blob import ContainerClient

from .credentials import JOB_MARKER
from .datastores import DatastoreTarget
from .retry import TransientRetryPolicy

CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 60
BLOCK_SIZE = 8 * 1024 * 1024
SINGLE_PUT_LIMIT = 16 * 1024 * 1024
RANGE_SIZE = 8 * 1024 * 1024  # download range per request
READ_BLOCK_SIZE = 4 * 1024 * 1024  # socket read size; the SDK's 256 KiB costs CPU on big ranges
NODE_ID_ENV = "AZ_BATCH_NODE_ID"  # Azure ML compute clusters are Batch pools


def caller_user_agent(environ: Mapping[str, str]) -> str | None:
    """On an Azure ML node, the job and node as a User-Agent prefix: Azure Storage's resource
    logs record it with each request, so a run's storage traffic can be told apart per job and
    node (the local stack counts it so, `/_local/traffic`)."""
    parts = [f"aml-job/{environ[JOB_MARKER]}"] if environ.get(JOB_MARKER) else []
    if environ.get(NODE_ID_ENV):
        parts.append(f"aml-node/{environ[NODE_ID_ENV]}")
    return " ".join(parts) or None


def container_client(target: DatastoreTarget) -> ContainerClient:
    """A client for the datastore's container, shared by all transfers to it."""
    return ContainerClient(
        target.account_url,
        target.container,
        credential=target.credential,
        retry_policy=TransientRetryPolicy(),
        connection_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        max_block_size=BLOCK_SIZE,
        max_single_put_size=SINGLE_PUT_LIMIT,
        connection_data_block_size=READ_BLOCK_SIZE,
        user_agent=caller_user_agent(os.environ),
    )
