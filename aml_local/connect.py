"""How a client reaches the local service: cloud metadata, a JWT-shaped credential, an MLClient.

Clients must also trust the service's certificate: set `REQUESTS_CA_BUNDLE` to the `ca_bundle`
path the service prints (azure-core's requests transport reads it; nothing else is needed).
`azure.ai.ml` is imported only inside `ml_client()` so this module stays cheap to import.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jwt
from azure.core.credentials import AccessToken

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

CLOUD_PREFIX = "AzureMLLocalService"
TENANT_ID = "00000000-0000-0000-0000-00000000feed"
_SIGNING_KEY = "local-service-token-signing-key-not-a-secret"


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


class LocalServiceCredential:
    """Returns a JWT whose audience is what the SDK checks: the scope minus "/.default"."""

    def __init__(self, object_id: str | None = None, lifetime_s: int = 3600) -> None:
        self.object_id = object_id or str(uuid.uuid4())
        self.lifetime_s = lifetime_s

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        audience = scopes[0].removesuffix("/.default") if scopes else ""
        expires = int(time.time()) + self.lifetime_s
        claims = {"aud": audience, "tid": TENANT_ID, "oid": self.object_id, "exp": expires}
        return AccessToken(jwt.encode(claims, _SIGNING_KEY, algorithm="HS256"), expires)

    def close(self) -> None:
        """Credentials may be used as context managers by azure-core; nothing to release."""

    def __enter__(self) -> LocalServiceCredential:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def ml_client(
    base_url: str, subscription_id: str, resource_group: str, workspace: str, **kwargs: Any
) -> MLClient:
    """An MLClient bound to the local service (REQUESTS_CA_BUNDLE must name its certificate)."""
    from azure.ai.ml import MLClient

    return MLClient(
        LocalServiceCredential(),
        subscription_id,
        resource_group,
        workspace,
        **cloud_metadata(base_url),
        **kwargs,
    )
