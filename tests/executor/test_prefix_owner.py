"""A storage prefix belongs to the workflow folder that used it first (its owner.json on the
datastore): another folder is refused by name unless it shares the prefix on purpose."""

from __future__ import annotations

import json
import socket

import pytest
from snakemake_interface_common.exceptions import WorkflowError

from aml_bridge.executor.prefix_owner import OWNER, Owner, claim

PREFIX = "azureml://datastores/workspaceblobstore/paths/shared_run"


def test_first_use_marks_the_prefix_and_only_that_folder_may_use_it(
    tmp_path, storage_provider, storage_container, storage_service
):
    datastore_of = storage_provider(storage_container).datastore
    first, second = Owner.of(tmp_path / "one"), Owner.of(tmp_path / "two")
    assert first.folder_id != second.folder_id

    assert claim(datastore_of, PREFIX, first, share=False) is None
    blob = storage_service.get_blob_client(storage_container, f"shared_run/{OWNER}")
    mark = json.loads(blob.download_blob().readall())
    assert mark == {
        "folder_id": first.folder_id, "host": socket.gethostname(), "path": str(tmp_path / "one")
    }  # fmt: skip
    assert claim(datastore_of, PREFIX + "/", first, share=False) is None  # its own, again

    with pytest.raises(WorkflowError) as refused:
        claim(datastore_of, PREFIX, second, share=False)
    message = str(refused.value)
    assert f"storage prefix {PREFIX} holds the outputs of another workflow folder" in message
    assert f"{socket.gethostname()}:{tmp_path / 'one'} (folder id {first.folder_id})" in message
    assert "--aml-share-prefix" in message

    assert claim(datastore_of, PREFIX, second, share=True) == first  # shared on purpose
    assert json.loads(blob.download_blob().readall())["folder_id"] == first.folder_id


def test_a_mark_that_names_no_folder_is_refused_naming_the_blob(
    tmp_path, storage_provider, storage_container, storage_service
):
    blob = storage_service.get_blob_client(storage_container, f"shared_run/{OWNER}")
    blob.upload_blob(b"not json")
    datastore_of = storage_provider(storage_container).datastore
    with pytest.raises(WorkflowError, match=rf"{PREFIX}/{OWNER} does not name the folder"):
        claim(datastore_of, PREFIX, Owner.of(tmp_path), share=True)
