"""`python -m aml_local serve --state-dir DIR [--port 0] ...` (`serve` may be left out),
`python -m aml_local up --dir DIR`, `python -m aml_local down --dir DIR` (see stack.py).

`serve` prints one JSON line (base_url, ca_bundle, msi_endpoint, subscription_id, ...) once it
listens, then serves until SIGTERM/SIGINT. Storage comes from the environment variable
AML_LOCAL_STORAGE_CONNECTION_STRING (with REQUESTS_CA_BUNDLE for an HTTPS Azurite); faults from
AML_LOCAL_FAULTS (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from .workspace import Cluster

# MLClient exports the name of a custom cloud; `import azure.ai.ml` in a process that inherits
# it fails ("Unknown cloud environment"), so the service drops it before importing its parts.
INHERITED_CLOUD_ENV = "AZUREML_CURRENT_CLOUD"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m aml_local serve", description=__doc__)
    p.add_argument("--state-dir", type=Path, required=True, help="state kept across restarts")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    # Unset options keep ServiceConfig's defaults (the workspace's), defined in one place.
    for option in (
        "--subscription-id",
        "--resource-group",
        "--workspace",
        "--compute",
        "--vm-size",
        "--location",
    ):
        p.add_argument(option)
    p.add_argument("--max-nodes", type=int, help="nodes of the default cluster (--compute)")
    p.add_argument(
        "--cluster",
        action="append",
        default=[],
        metavar="NAME:VM_SIZE:MAX_NODES[:low_priority]",
        help="another AmlCompute cluster (repeatable); dedicated unless low_priority",
    )
    p.add_argument(
        "--environment-build-seconds",
        type=float,
        help="time the first job of a new environment version spends building it (Preparing)",
    )
    p.add_argument(
        "--image-cache",
        type=Path,
        help="folder of built environment images, shared by services (default: STATE_DIR/images)",
    )
    p.add_argument(
        "--node-startup-seconds",
        type=float,
        help="time a node allocation takes before the job on it starts (default 0)",
    )
    p.add_argument(
        "--node-idle-seconds",
        type=float,
        help="time a released node stays allocated and starts the next job at once (default 0)",
    )
    p.add_argument(
        "--default-step-timeout-seconds",
        type=float,
        help="a parallel step's run() call limit when the node sets none (default: Azure ML's 60)",
    )
    p.add_argument("--blob-container", help="container of workspaceblobstore")
    p.add_argument("--artifact-container", help="container of workspaceartifactstore")
    p.add_argument("--tls-dir", type=Path, help="certificate folder (default: STATE_DIR/tls)")
    p.add_argument(
        "--cluster-identity",
        action="append",
        default=[],
        metavar="NAME=system|none|user:CLIENT_ID",
        help="a cluster's managed identity (default: system-assigned); repeatable",
    )
    args = p.parse_args(argv)
    if args.max_nodes is not None and args.max_nodes < 1:
        p.error("--max-nodes must be at least 1")
    try:
        args.cluster = [Cluster.parse(entry) for entry in args.cluster]
    except ValueError as exc:
        p.error(f"--cluster {exc}")
    if any(c.max_nodes < 1 for c in args.cluster):
        p.error("--cluster: MAX_NODES must be at least 1")

    from .identity import cluster_identities

    try:
        args.cluster_identity = cluster_identities(args.cluster_identity)
    except ValueError as exc:
        p.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["up"], ["down"]):
        from .stack import main as stack_main

        stack_main(argv)
        return
    serve(argv[1:] if argv[:1] == ["serve"] else argv)


def serve(argv: list[str]) -> None:
    args = parse_args(argv)
    os.environ.pop(INHERITED_CLOUD_ENV, None)
    from .app import LocalService, ServiceConfig

    config = ServiceConfig(
        state_dir=args.state_dir,
        port=args.port,
        clusters=args.cluster,
        tls_dir=args.tls_dir,
        cluster_identities=args.cluster_identity,
        image_cache=args.image_cache,
    )
    if args.environment_build_seconds is not None:
        config.environment_build_s = args.environment_build_seconds
    if args.node_startup_seconds is not None:
        config.node_startup_s = args.node_startup_seconds
    if args.node_idle_seconds is not None:
        config.node_idle_s = args.node_idle_seconds
    if args.default_step_timeout_seconds is not None:
        config.step_timeout_s = args.default_step_timeout_seconds
    identity = ("subscription_id", "resource_group", "workspace", "compute", "vm_size", "max_nodes")
    identity += ("location",)
    for name in identity:
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    for datastore, option in (
        ("workspaceblobstore", args.blob_container),
        ("workspaceartifactstore", args.artifact_container),
    ):
        if option:
            config.containers[datastore] = option
    service = LocalService(config)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    requeued = service.start()
    print(json.dumps({**service.info(), "requeued_jobs": requeued}), flush=True)
    done.wait()
    service.stop()


if __name__ == "__main__":
    main()
