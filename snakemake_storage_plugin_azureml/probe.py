"""Write, read back and delete one blob through this plugin, the way a job's storage access
goes (settings and secrets from the environment, else the workspace, else DefaultAzureCredential:
on a node, the cluster's managed identity). `aml-genomics check` runs it here and as a probe job
on each cluster: `python -m snakemake_storage_plugin_azureml.probe DATASTORE PATH` prints one
JSON line and exits 1 when storage cannot be used, with the reason.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path

from . import credentials
from .blobstore import Datastore
from .datastores import SettingsResolver, parse_datastore_map
from .errors import Redactor
from .stats import TransferStats
from .workspace import WorkspaceDatastores, WorkspaceRef


def open_datastore(name: str) -> Datastore:
    """The datastore as the provider resolves it from SNAKEMAKE_STORAGE_AZUREML_* settings in
    the environment, else from the workspace (SNAKEMAKE_AML_*)."""
    env = os.environ
    credential = functools.cache(credentials.default_credential)
    ref = WorkspaceRef.from_environ(env)
    resolver = SettingsResolver(
        account_url=env.get(credentials.ENV_PREFIX + "ACCOUNT_URL"),
        container=env.get(credentials.ENV_PREFIX + "CONTAINER"),
        datastores=parse_datastore_map(env.get(credentials.ENV_PREFIX + "DATASTORES")),
        custom=WorkspaceDatastores(ref, credential) if ref else None,
        environ=env,
        default_credential=credential,
    )
    redact = Redactor(credentials.secret_values(env))
    return Datastore(name, resolver(name), TransferStats(), redact)


def probe(datastore: Datastore, path: str) -> dict[str, object]:
    """Round-trip one small blob under `path`; what was written equals what was read."""
    content = f"aml-genomics probe {uuid.uuid4().hex}\n".encode()
    name = f"{path.strip('/')}/{uuid.uuid4().hex[:12]}.txt"
    with tempfile.TemporaryDirectory() as tmp:
        local, back = Path(tmp, "out.txt"), Path(tmp, "back.txt")
        local.write_bytes(content)
        datastore.store_file(local, name)
        entry = datastore.stat(name)
        if entry is None:
            raise RuntimeError(f"{datastore.query(name)} is missing right after writing it")
        datastore.retrieve_file(entry, back)
        if back.read_bytes() != content:
            raise RuntimeError(f"{datastore.query(name)} read back differs from what was written")
    datastore.delete([name])
    return {"ok": True, "blob": datastore.query(name), "auth": datastore.target.auth}


def main(argv: list[str] | None = None) -> int:
    datastore_name, path = (argv if argv is not None else sys.argv[1:])[:2]
    try:
        result = probe(open_datastore(datastore_name), path)
    except Exception as e:  # the reason is the report: storage settings, identity, network
        result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
