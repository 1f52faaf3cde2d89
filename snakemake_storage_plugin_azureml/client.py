"""Build a container client with this plugin's retry policy and timeouts."""

from __future__ import annotations

from azure.storage.blob import ContainerClient

from .datastores import DatastoreTarget
from .retry import TransientRetryPolicy

CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 60
BLOCK_SIZE = 8 * 1024 * 1024
SINGLE_PUT_LIMIT = 16 * 1024 * 1024
RANGE_SIZE = 8 * 1024 * 1024  # download range per request
READ_BLOCK_SIZE = 4 * 1024 * 1024  # socket read size; the SDK's 256 KiB costs CPU on big ranges


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
    )
