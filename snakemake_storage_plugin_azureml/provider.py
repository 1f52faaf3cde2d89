"""The `azureml` storage provider: validates queries and hands out one client per datastore."""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_storage_plugins.common import Operation
from snakemake_interface_storage_plugins.storage_provider import (
    ExampleQuery,
    QueryType,
    StorageProviderBase,
    StorageQueryValidationResult,
)

from . import credentials
from .datastores import (
    DatastoreConfigError,
    SettingsResolver,
    lazy_resolver,
    parse_datastore_map,
)
from .node_cache import NodeCache, cache_root
from .query import EXAMPLE, InvalidQuery, make_query, parse_query, query_problem
from .run_registry import REGISTRY
from .settings import StorageProviderSettings
from .staging import Staging
from .stats import TransferStats
from .workspace import WorkspaceDatastores, WorkspaceRef

if TYPE_CHECKING:
    from .blobstore import Datastore

QUIET_LOGGERS = ("azure.core.pipeline.policies.http_logging_policy", "azure.identity")


class StorageProvider(StorageProviderBase):
    def __post_init__(self) -> None:
        settings = self.settings or StorageProviderSettings()
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        credential = functools.cache(credentials.default_credential)
        # No container and no resolver given: ask the executor's workspace where datastores live.
        self.workspace_datastores = workspace_lookup(settings, os.environ, credential)
        try:
            self.resolver = SettingsResolver(
                account_url=settings.account_url,
                container=settings.container,
                datastore=settings.datastore,
                datastores=parse_datastore_map(settings.datastores),
                custom=lazy_resolver(settings.datastore_resolver)
                if settings.datastore_resolver
                else self.workspace_datastores,
                environ=os.environ,
                default_credential=credential,
            )
        except DatastoreConfigError as e:
            raise WorkflowError(f"azureml storage settings: {e}") from None
        self.max_concurrency = int(settings.max_concurrency or 8)
        self.inventoried: set[str] = set()
        self._datastores: dict[str, Datastore] = {}
        self._lock = threading.Lock()
        self.stats = TransferStats()  # bytes moved; a skipped unchanged upload adds 0
        self.node_cache = make_node_cache(settings, os.environ, self.stats)
        self.staging = Staging(self.datastore)  # local inputs (staging.py), run_storage's to fill

    def datastore(self, name: str) -> Datastore:
        """The client for datastore `name`, resolved once (raises a clear WorkflowError)."""
        with self._lock:
            if name not in self._datastores:
                from .blobstore import Datastore
                from .errors import Redactor

                try:
                    target = self.resolver(name)
                except (DatastoreConfigError, credentials.CredentialConfigError) as e:
                    raise WorkflowError(f"azureml storage: {e}") from None
                redact = Redactor(credentials.secret_values(os.environ))
                self._datastores[name] = Datastore(
                    name, target, self.stats, redact, self.max_concurrency, self.node_cache
                )
            return self._datastores[name]

    @classmethod
    def get_storage_object_cls(cls):
        """The base looks for StorageObject in this class's module; it lives next door."""
        from .storage_object import StorageObject

        return StorageObject

    @classmethod
    def example_queries(cls) -> list[ExampleQuery]:
        return [
            ExampleQuery(
                query=EXAMPLE,
                description="A file on the workspace's default blob datastore.",
                type=QueryType.ANY,
            ),
            ExampleQuery(
                query=make_query("workspaceblobstore", "genomics_output/results/qc"),
                description="A folder (e.g. a directory() output) on a datastore.",
                type=QueryType.OUTPUT,
            ),
        ]

    def rate_limiter_key(self, query: str, operation: Operation) -> Any:
        try:
            return parse_query(query).datastore
        except InvalidQuery:
            return query

    def default_max_requests_per_second(self) -> float:
        return 200.0

    def use_rate_limiter(self) -> bool:
        return bool(self.settings and self.settings.max_requests_per_second)

    @classmethod
    def is_valid_query(cls, query: str) -> StorageQueryValidationResult:
        reason = query_problem(query)
        return StorageQueryValidationResult(query=query, valid=reason is None, reason=reason)

    def list_objects(self, query: Any) -> list[str]:
        """Queries of all blobs whose path starts with the path of `query`."""
        location = parse_query(query)
        entries, _ = self.datastore(location.datastore).list(location.path)
        return [make_query(location.datastore, e.name) for e in entries]


def workspace_lookup(
    settings: StorageProviderSettings, environ: Mapping[str, str], credential: Callable[[], object]
) -> WorkspaceDatastores | None:
    """The workspace's datastore lookup, when the settings leave the container open and the
    aml executor's settings (handed over to the run registry) or the environment name a
    workspace."""
    if settings.container or settings.datastore_resolver:
        return None
    ref = REGISTRY.executor_workspace or WorkspaceRef.from_environ(environ)
    return WorkspaceDatastores(ref, credential) if ref else None


def make_node_cache(
    settings: StorageProviderSettings, environ: Mapping[str, str], stats: TransferStats
) -> NodeCache | None:
    """The node-local input cache (node_cache.py), or None: no place for it, a cap of 0, or a
    folder this job cannot write (then every input is downloaded, as without a cache)."""
    root = cache_root(environ, settings.node_cache)
    max_bytes = int(settings.node_cache_max_bytes or 0)
    if root is None or max_bytes <= 0:
        return None
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        logging.getLogger(__name__).warning("azureml storage: no node cache at %s: %s", root, e)
        return None
    if not os.access(root, os.W_OK | os.X_OK):
        logging.getLogger(__name__).warning("azureml storage: node cache %s not writable", root)
        return None
    return NodeCache(root, max_bytes, int(settings.node_cache_min_bytes or 0), stats)
