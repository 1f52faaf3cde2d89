"""Names and limits Azure ML enforces: invalid ones get its 400 UserError, one test per rule."""

from __future__ import annotations

import uuid

import pytest

from tests.local_service.helpers import api_call, workspace_path
from tests.local_service.test_validation import _name, _put_job, _rest_body


def _rejected(service, name: str, **props) -> str:
    status, error = _put_job(service, name, _rest_body(service, **props))
    assert status == 400 and error["error"]["code"] == "UserError", error
    return error["error"]["message"]


@pytest.mark.parametrize("name", ["_helper-1", "bwa.mem-1", "x" * 256])
def test_invalid_job_name_is_rejected(aml_service, name):
    assert "Job name" in _rejected(aml_service, name)


def test_longest_valid_job_name_is_accepted(aml_service):
    status, _ = _put_job(aml_service, "j" + uuid.uuid4().hex + "x" * 222, _rest_body(aml_service))
    assert status == 201


def test_display_name_over_256_characters_is_rejected(aml_service):
    assert "displayName" in _rejected(aml_service, _name(), displayName="d" * 257)


def test_more_than_50_tags_are_rejected(aml_service):
    tags = {f"k{i}": "v" for i in range(51)}
    assert "at most 50" in _rejected(aml_service, _name(), tags=tags)


def test_tag_key_over_100_and_value_over_1000_characters_are_rejected(aml_service):
    assert "at most 100" in _rejected(aml_service, _name(), tags={"k" * 101: "v"})
    assert "at most 1000" in _rejected(aml_service, _name(), tags={"k": "v" * 1001})


def test_experiment_name_must_be_ascii_and_at_most_256_characters(aml_service):
    assert "experimentName" in _rejected(aml_service, _name(), experimentName="génome")
    assert "experimentName" in _rejected(aml_service, _name(), experimentName="e" * 257)


@pytest.mark.parametrize("kind", ["environments", "components"])
def test_environment_and_component_names_with_dots_are_rejected(aml_service, kind):
    path = f"{workspace_path(aml_service)}/{kind}/samtools-1.20/versions/1?api-version=2025-12-01"
    status, _, error = api_call(aml_service, "PUT", path, {"properties": {}})
    assert status == 400 and error["error"]["code"] == "UserError"
    assert "name 'samtools-1.20' is invalid" in error["error"]["message"]
