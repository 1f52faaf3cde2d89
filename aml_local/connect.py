"""How a client reaches the local service: cloud metadata and an MLClient.

Clients trust the service's certificate through `REQUESTS_CA_BUNDLE` (the `ca_bundle` path the
service prints; azure-core's requests transport reads it) and get tokens from the service's
managed-identity endpoint: `MSI_ENDPOINT` + `MSI_SECRET` in the environment, as
`python -m aml_local up` prints them, and azure-identity's ManagedIdentityCredential.
`azure.ai.ml` is imported only inside `ml_client()` so this module stays cheap to import.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

CLOUD_PREFIX = "AzureMLLocalService"


def cloud_name(base_url: str) -> str:
    """One cloud name per service address: the SDK registers a cloud name once per process."""
    return CLOUD_PREFIX + "_" + re.sub(r"\W", "_", urlsplit(base_url).netloc)


def cloud_metadata(base_url: str) -> dict[str, Any]:
    """Keyword arguments `cloud=`/`cloud_metadata=` for MLClient: every endpoint is the service.

    MLClient also exports the cloud name as AZUREML_CURRENT_CLOUD, which some SDK calls read:
    in one process, use clients of one service at a time.
    """
    base = base_url.rstrip("/") + "/"
    return {
        "cloud": cloud_name(base_url),
        "cloud_metadata": {
            "resource_manager": base,
            "aml_resource_id": base,
            "azure_portal": base,
            "active_directory": base,
            "registry_discovery_endpoint": base,
            "storage_endpoint": "core.windows.net",
        },
    }


def ml_client(
    base_url: str,
    subscription_id: str,
    resource_group: str,
    workspace: str,
    credential: Any = None,
    **kwargs: Any,
) -> MLClient:
    """An MLClient bound to the local service, acting as the identity of MSI_ENDPOINT/MSI_SECRET
    (or `credential`); REQUESTS_CA_BUNDLE must name the service's certificate."""
    from azure.ai.ml import MLClient

    if credential is None:
        if not (os.environ.get("MSI_ENDPOINT") and os.environ.get("MSI_SECRET")):
            raise RuntimeError(
                "MSI_ENDPOINT and MSI_SECRET must name the local service's identity endpoint: "
                'eval "$(python -m aml_local up --dir DIR)" sets them'
            )
        from azure.identity import ManagedIdentityCredential

        credential = ManagedIdentityCredential()
    return MLClient(
        credential,
        subscription_id,
        resource_group,
        workspace,
        **cloud_metadata(base_url),
        **kwargs,
    )
