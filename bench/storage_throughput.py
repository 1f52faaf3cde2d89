"""Throughput of the azureml storage plugin vs azure-storage-blob used directly, on Azurite.

Run: python3 bench/storage_throughput.py [--mb 200] [--rounds 2]
Prints upload/download MB/s for both, the plugin/direct ratio (target >= 0.8), and the bytes
a rerun with unchanged inputs transfers (target 0). Starts and stops its own Azurite.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aml_local.azurite import Azurite  # noqa: E402

MIB = 1 << 20


def timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="file size in MiB")
    parser.add_argument("--rounds", type=int, default=2, help="best of N rounds per figure")
    args = parser.parse_args()

    from azure.storage.blob import BlobServiceClient

    from snakemake_storage_plugin_azureml import StorageProvider, StorageProviderSettings

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        server = Azurite(location=tmp_path / "azurite")
        server.start()
        try:
            service = BlobServiceClient.from_connection_string(server.connection_string)
            direct = service.create_container("bench")
            os.environ["SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_KEY"] = server.key
            provider = StorageProvider(
                local_prefix=tmp_path / "local",
                logger=logging.getLogger("bench"),
                settings=StorageProviderSettings(
                    account_url=server.blob_endpoint, container="bench"
                ),
            )
            obj = provider.object("azureml://datastores/workspaceblobstore/paths/bench/plugin.bin")
            source = tmp_path / "source.bin"
            source.write_bytes(os.urandom(MIB) * args.mb)
            size_mb = source.stat().st_size / MIB
            concurrency = provider.max_concurrency

            def direct_up() -> None:
                with open(source, "rb") as f:
                    direct.upload_blob(
                        "bench/direct.bin", f, overwrite=True, max_concurrency=concurrency
                    )

            def direct_down() -> None:
                with open(tmp_path / "direct.out", "wb") as f:
                    direct.download_blob("bench/direct.bin", max_concurrency=concurrency).readinto(
                        f
                    )

            plugin_blob = service.get_blob_client("bench", "bench/plugin.bin")

            def plugin_up_setup() -> None:
                local = obj.local_path()
                local.parent.mkdir(parents=True, exist_ok=True)
                local.unlink(missing_ok=True)
                os.link(source, local)
                if plugin_blob.exists():  # else the unchanged file would (rightly) be skipped
                    plugin_blob.delete_blob()

            def plugin_down_setup() -> None:
                obj.local_path().unlink(missing_ok=True)

            figures = [
                ("direct upload", None, direct_up),
                ("plugin upload", plugin_up_setup, obj.store_object),
                ("direct download", None, direct_down),
                ("plugin download", plugin_down_setup, obj.retrieve_object),
            ]
            times: dict[str, float] = {}
            for _ in range(args.rounds):
                for name, setup, func in figures:
                    if setup:
                        setup()
                    seconds = timed(func)
                    times[name] = min(times.get(name, seconds), seconds)

            print(f"file: {size_mb:.0f} MiB, {concurrency} connections, best of {args.rounds}")
            for direction in ("upload", "download"):
                d, p = times[f"direct {direction}"], times[f"plugin {direction}"]
                print(
                    f"{direction:8s}: direct {size_mb / d:7.1f} MiB/s  "
                    f"plugin {size_mb / p:7.1f} MiB/s  ratio {d / p:.2f} (target >= 0.8)"
                )

            before = provider.stats.uploaded_bytes
            plugin_up_setup()
            obj.store_object()  # the first run
            first = provider.stats.uploaded_bytes - before
            before = provider.stats.uploaded_bytes
            rerun = timed(obj.store_object)  # a rerun: same local file
            sent = provider.stats.uploaded_bytes - before
            print(f"first run: {first} bytes transferred")
            print(
                f"rerun with unchanged input: {sent} bytes transferred (target 0), "
                f"{provider.stats.skipped_uploads} upload(s) skipped, check took {rerun:.2f} s"
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
