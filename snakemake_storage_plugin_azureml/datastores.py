"""Datastore name -> (account URL, container, credential): the one pluggable piece.

Resolution order for a datastore name:
1. `--storage-azureml-datastores NAME=<container URL or container>`;
2. the simple settings (`account-url`, `container`, optionally restricted to `datastore`);
3. a custom resolver `--storage-azureml-datastore-resolver package.module:function`, a callable
   `function(name) -> DatastoreTarget` (e.g. the Azure ML executor's workspace lookup);
otherwise a clear error. A target without a credential gets the datastore's secret from the
environment (see credentials.py), else `DefaultAzureCredential`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol
from urllib.parse import urlsplit

from . import credentials as creds

_CONTAINER_NAME = re.compile(r"^(\$root|[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9])$")


class DatastoreConfigError(ValueError):
    """Settings that cannot resolve a datastore (the message never contains a secret)."""


@dataclass(frozen=True)
class DatastoreTarget:
    """Where a datastore's blobs are and how to authenticate (credential None: from env/default)."""

    account_url: str
    container: str
    credential: object | None = field(default=None, repr=False, compare=False)
    auth: str = ""

    @property
    def container_url(self) -> str:
        return f"{self.account_url}/{self.container}"


class DatastoreResolver(Protocol):
    def __call__(self, datastore: str) -> DatastoreTarget: ...


def check_container_name(container: str, context: str) -> str:
    if not _CONTAINER_NAME.match(container):
        raise DatastoreConfigError(
            f"{context}: container name {container!r} is invalid (3-63 lowercase letters, "
            "digits and single hyphens)"
        )
    return container


def check_account_url(url: str, context: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DatastoreConfigError(
            f"{context}: {parts.scheme}://{parts.hostname} is no http(s) URL"
        )
    if parts.query or parts.fragment:
        raise DatastoreConfigError(
            f"{context}: the URL of {parts.hostname} carries a query string; SAS tokens belong in "
            f"${creds.ENV_PREFIX}SAS_TOKEN, never in settings"
        )
    return url.rstrip("/")


def split_container_url(url: str, context: str) -> tuple[str, str]:
    """https://<account>.blob.core.windows.net/<container> -> (account URL, container)."""
    url = check_account_url(url, context)
    account_url, _, container = url.rpartition("/")
    if not urlsplit(account_url).hostname:
        raise DatastoreConfigError(f"{context}: {url} has no container after the account")
    return account_url, check_container_name(container, context)


def parse_datastore_map(text: str | None) -> dict[str, str]:
    """'a=https://acct.blob.core.windows.net/c1, b=c2' -> {'a': '...', 'b': 'c2'}."""
    mapping: dict[str, str] = {}
    for item in re.split(r"[,\s]+", (text or "").strip()):
        if not item:
            continue
        name, sep, spec = item.partition("=")
        if not sep or not name or not spec:
            raise DatastoreConfigError(
                f"--storage-azureml-datastores entry {item.split('?')[0]!r} is not NAME=URL or "
                "NAME=CONTAINER"
            )
        if name in mapping:
            raise DatastoreConfigError(f"--storage-azureml-datastores names {name!r} twice")
        mapping[name] = spec
    return mapping


def _split_resolver_spec(spec: str) -> tuple[str, str]:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise DatastoreConfigError(
            f"--storage-azureml-datastore-resolver {spec!r} is not 'package.module:function'"
        )
    return module_name, attr


def load_resolver(spec: str) -> DatastoreResolver:
    """Import 'package.module:function'."""
    module_name, attr = _split_resolver_spec(spec)
    try:
        resolver = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise DatastoreConfigError(f"cannot load datastore resolver {spec!r}: {e}") from None
    if not callable(resolver):
        raise DatastoreConfigError(f"datastore resolver {spec!r} is not callable")
    return resolver


def lazy_resolver(spec: str) -> DatastoreResolver:
    """Check `spec` now, import it on first use (a workspace lookup may pull in heavy SDKs)."""
    _split_resolver_spec(spec)
    return lambda name: load_resolver(spec)(name)


@dataclass
class SettingsResolver:
    """Resolve datastores from plugin settings + environment, then an optional custom resolver."""

    account_url: str | None = None
    container: str | None = None
    datastore: str | None = None
    datastores: Mapping[str, str] = field(default_factory=dict)
    custom: DatastoreResolver | None = None
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    default_credential: Callable[[], object] = creds.default_credential

    def __post_init__(self) -> None:
        if self.account_url:
            self.account_url = check_account_url(self.account_url, "--storage-azureml-account-url")
        if self.container:
            check_container_name(self.container, "--storage-azureml-container")
        for name, spec in self.datastores.items():
            context = f"datastore {name!r} in --storage-azureml-datastores"
            if "://" in spec:
                split_container_url(spec, context)
            else:
                check_container_name(spec, context)

    def __call__(self, name: str) -> DatastoreTarget:
        secret = creds.find_secret(name, self.environ)
        connection = None
        if secret and secret.kind == creds.CONNECTION_STRING:
            try:
                connection = creds.parse_connection_string(secret.value)
            except creds.CredentialConfigError as e:
                raise DatastoreConfigError(f"${secret.variable}: {e}") from None
        target = self._locate(name, connection)
        if connection and connection.account_url.lower() != target.account_url.lower():
            raise DatastoreConfigError(
                f"datastore {name!r}: ${secret.variable} is for {connection.account_url}, but the "
                f"datastore is at {target.account_url}"
            )
        if target.credential is not None:
            return target
        if secret:
            credential = creds.credential_from_secret(secret, target.account_url)
            return replace(target, credential=credential, auth=secret.describe())
        auth = creds.default_credential_description()
        return replace(target, credential=self.default_credential(), auth=auth)

    def _locate(self, name: str, connection: creds.ConnectionString | None) -> DatastoreTarget:
        account_url = self.account_url or (connection.account_url if connection else None)
        if name in self.datastores:
            spec = self.datastores[name]
            context = f"datastore {name!r} in --storage-azureml-datastores"
            if "://" in spec:
                return DatastoreTarget(*split_container_url(spec, context))
            return DatastoreTarget(self._need_account(account_url, name), spec)
        if self.container and self.datastore in (None, name):
            return DatastoreTarget(self._need_account(account_url, name), self.container)
        if self.custom is not None:
            target = self.custom(name)
            if not isinstance(target, DatastoreTarget):
                raise DatastoreConfigError(
                    f"the datastore resolver returned {type(target).__name__} for {name!r}, "
                    "not a DatastoreTarget"
                )
            context = f"datastore {name!r} from the datastore resolver"
            target = replace(
                target,
                account_url=check_account_url(target.account_url, context),
                container=check_container_name(target.container, context),
            )
            if target.credential is not None and not target.auth:
                target = replace(target, auth="credential from the datastore resolver")
            return target
        known = sorted(self.datastores) + ([self.datastore] if self.datastore else [])
        raise DatastoreConfigError(
            f"datastore {name!r} is not configured (known: {', '.join(known) or 'none'}); set "
            f"--storage-azureml-account-url and --storage-azureml-container, or "
            f"--storage-azureml-datastores {name}=https://<account>.blob.core.windows.net/<container>"
            ", or let the workspace say: SNAKEMAKE_AML_SUBSCRIPTION, SNAKEMAKE_AML_RESOURCE_GROUP "
            "and SNAKEMAKE_AML_WORKSPACE in the environment (the plugin does not see --aml-* flags)"
        )

    @staticmethod
    def _need_account(account_url: str | None, name: str) -> str:
        if not account_url:
            raise DatastoreConfigError(
                f"datastore {name!r}: no storage account; set --storage-azureml-account-url "
                f"(or ${creds.ENV_PREFIX}ACCOUNT_URL) or a connection string in "
                f"${creds.ENV_PREFIX}CONNECTION_STRING"
            )
        return account_url
