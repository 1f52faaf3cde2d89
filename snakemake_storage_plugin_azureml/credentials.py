"""Secrets from the environment only, and the credential objects built from them.

Secrets (account key, SAS token, connection string) are never settings: a setting can be given
on a command line and is forwarded to spawned jobs' command lines. They are read from
`SNAKEMAKE_STORAGE_AZUREML_<DATASTORE>_<KIND>` first, then `SNAKEMAKE_STORAGE_AZUREML_<KIND>`.
Azure SDK modules are imported inside functions: this module is loaded on every Snakemake run.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ENV_PREFIX = "SNAKEMAKE_STORAGE_AZUREML_"
CONNECTION_STRING = "CONNECTION_STRING"
SAS_TOKEN = "SAS_TOKEN"
ACCOUNT_KEY = "ACCOUNT_KEY"
SECRET_KINDS = (CONNECTION_STRING, SAS_TOKEN, ACCOUNT_KEY)
# Azurite's published development account (a public test value, not a secret).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class CredentialConfigError(ValueError):
    """A secret or URL in the environment/settings that cannot be used (message has no secret)."""


@dataclass(frozen=True)
class Secret:
    kind: str
    variable: str
    value: str = field(repr=False)

    def describe(self) -> str:
        return f"{self.kind.lower().replace('_', ' ')} from ${self.variable}"


@dataclass(frozen=True)
class ConnectionString:
    account_url: str
    account_key: str | None = field(default=None, repr=False)
    sas_token: str | None = field(default=None, repr=False)


def secret_variables(datastore: str) -> list[tuple[str, str]]:
    """(kind, variable) searched for `datastore`'s secret, most specific first."""
    scopes = (f"{datastore.upper()}_", "")
    return [(kind, f"{ENV_PREFIX}{scope}{kind}") for scope in scopes for kind in SECRET_KINDS]


def find_secret(datastore: str, environ: Mapping[str, str]) -> Secret | None:
    for kind, variable in secret_variables(datastore):
        value = environ.get(variable, "").strip()
        if value:
            return Secret(kind, variable, value)
    return None


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """Every secret value (and its key/SAS parts) present, so messages can be scrubbed of them."""
    values = []
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name.endswith(SECRET_KINDS) and value.strip():
            values.append(value.strip())
            if name.endswith(CONNECTION_STRING):
                parts = _connection_string_parts(value)
                values += [parts[k] for k in ("accountkey", "sharedaccesssignature") if k in parts]
    return sorted(set(values), key=len, reverse=True)


def _connection_string_parts(text: str) -> dict[str, str]:
    parts = {}
    for item in text.strip().split(";"):
        if item.strip():
            key, sep, value = item.partition("=")
            if not sep:
                raise CredentialConfigError("the connection string has an item without '='")
            parts[key.strip().lower()] = value.strip()
    return parts


def parse_connection_string(text: str) -> ConnectionString:
    """Blob endpoint and key/SAS from a storage connection string (never echoes the input)."""
    parts = _connection_string_parts(text)
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        return ConnectionString(f"http://127.0.0.1:10000/{DEV_ACCOUNT}", account_key=DEV_KEY)
    account_url = parts.get("blobendpoint")
    if not account_url:
        name, suffix = parts.get("accountname"), parts.get("endpointsuffix", "core.windows.net")
        if not name:
            raise CredentialConfigError(
                "the connection string has neither BlobEndpoint nor AccountName"
            )
        protocol = parts.get("defaultendpointsprotocol", "https")
        account_url = f"{protocol}://{name}.blob.{suffix}"
    key, sas = parts.get("accountkey"), parts.get("sharedaccesssignature")
    if not key and not sas:
        raise CredentialConfigError(
            "the connection string has neither AccountKey nor SharedAccessSignature"
        )
    return ConnectionString(account_url.rstrip("/"), account_key=key, sas_token=sas)


def account_name(account_url: str) -> str:
    """Account name from a blob endpoint: host label, or first path segment (Azurite, IP style)."""
    parts = urlsplit(account_url)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
        ip_style = True
    except ValueError:
        ip_style = host == "localhost"
    if ip_style:
        first = parts.path.strip("/").split("/")[0]
        if not first:
            raise CredentialConfigError(
                f"account URL {account_url} needs the account name as its path (IP-style endpoint)"
            )
        return first
    return host.split(".")[0]


def credential_from_secret(secret: Secret, account_url: str) -> object:
    """An SDK credential object for a key, SAS or connection string found in the environment."""
    from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential

    if secret.kind == CONNECTION_STRING:
        parsed = parse_connection_string(secret.value)
        if parsed.account_key:
            return AzureNamedKeyCredential(account_name(parsed.account_url), parsed.account_key)
        return AzureSasCredential(parsed.sas_token.lstrip("?"))
    if secret.kind == SAS_TOKEN:
        return AzureSasCredential(secret.value.lstrip("?"))
    return AzureNamedKeyCredential(account_name(account_url), secret.value)


# Set by Azure ML in every job: errors there name the managed-identity prerequisite.
JOB_MARKER = "AZUREML_RUN_ID"
IDENTITY_CLIENT_ID = "DEFAULT_IDENTITY_CLIENT_ID"
IDENTITY_PREREQUISITE = (
    "inside an Azure ML job, storage access comes from the compute cluster's managed identity: "
    "the cluster needs a managed identity (system-assigned, or user-assigned) with the "
    "'Storage Blob Data Contributor' role on the datastore's storage account"
)


def default_credential() -> object:
    """`DefaultAzureCredential`: az login on a laptop, the cluster's managed identity in a job.

    In a job on a cluster with a user-assigned identity, Azure ML sets DEFAULT_IDENTITY_CLIENT_ID;
    DefaultAzureCredential takes a client id only from AZURE_CLIENT_ID, so it is passed on.
    """
    from azure.identity import DefaultAzureCredential

    client_id = os.environ.get("AZURE_CLIENT_ID") or os.environ.get(IDENTITY_CLIENT_ID)
    return DefaultAzureCredential(managed_identity_client_id=client_id)


def default_credential_description() -> str:
    """How the default credential is named in errors; in a job, with the prerequisite, so that
    both failures name it: no identity (no token) and no role assignment (HTTP 403)."""
    if os.environ.get(JOB_MARKER):
        return f"DefaultAzureCredential; {IDENTITY_PREREQUISITE}"
    return "DefaultAzureCredential"
