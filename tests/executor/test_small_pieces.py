"""Serverless instance-type table, log locations, job environment variables, the unfinished
run's id."""

from pathlib import Path

import pytest

from aml_bridge.executor.job_env import job_env_vars
from aml_bridge.executor.logs import excerpt, log_path
from aml_bridge.executor.run_state import finished_run, remember_run, unfinished_run
from aml_bridge.model.clusters import choose_instance_type, parse_instance_table


def test_table_sorted_and_smallest_fit_chosen():
    table = parse_instance_table(["big:16:131072", "small:2:4096", "mid:8:32768"])
    assert [t.name for t in table] == ["small", "mid", "big"]
    assert choose_instance_type(table, 2, None, "x") == "small"
    assert choose_instance_type(table, 2, 5000, "x") == "mid"
    assert choose_instance_type([], 64, 10**6, "x") is None


@pytest.mark.parametrize("entry", ["small", "small:2", ":2:4096", "small:2:4GB"])
def test_bad_table_entries(entry):
    with pytest.raises(ValueError, match=entry):
        parse_instance_table([entry])


def test_log_path_layout(tmp_path):
    path = log_path("bwa_mem", {"unit": "1", "sample": "A"}, 2, root=tmp_path)
    assert path == tmp_path / "bwa_mem" / "sample=A,unit=1" / "2.log"
    assert log_path("multiqc", {}, 1, root=Path("r")) == Path("r/multiqc/no_wildcards/1.log")
    path.parent.mkdir(parents=True)
    path.write_text("".join(f"line {i}\n" for i in range(100)))
    assert excerpt(path, 2) == "line 98\nline 99\n"


def test_log_excerpt_brings_the_error_lines_above_the_traceback(tmp_path):
    log = tmp_path / "1.log"
    lines = ["[M::process] read 200 sequences\n", "ERROR: sample s, unit 1: R1 is truncated\n"]
    lines += ['    fail() { echo "ERROR: $1"; }\n'] + [f"traceback {i}\n" for i in range(30)]
    log.write_text("".join(lines))
    shown = excerpt(log, lines=3)
    assert shown == (
        "ERROR: sample s, unit 1: R1 is truncated\n...\ntraceback 27\ntraceback 28\ntraceback 29\n"
    )


def test_secrets_stay_out_of_job_specs():
    candidates = {
        "TZ": "UTC",
        "SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_URL": "https://acct.blob.core.windows.net",
        "SNAKEMAKE_STORAGE_AZUREML_CONNECTION_STRING": "AccountKey=s3cret",
        "MY_API_TOKEN": "t",
    }
    passed, withheld = job_env_vars(candidates)
    assert passed == {
        "SNAKEMAKE_STORAGE_AZUREML_ACCOUNT_URL": "https://acct.blob.core.windows.net",
        "TZ": "UTC",
    }
    assert withheld == ["MY_API_TOKEN", "SNAKEMAKE_STORAGE_AZUREML_CONNECTION_STRING"]


def test_run_id_of_an_unfinished_run_is_kept_until_the_run_ends(tmp_path):
    path = tmp_path / ".snakemake" / "aml" / "run_id"
    assert unfinished_run(path) is None
    remember_run("ab12cd34", path)
    assert unfinished_run(path) == "ab12cd34"
    path.write_text("../../etc\n")  # not a run id: ignored, a new run starts
    assert unfinished_run(path) is None
    finished_run(path)
    assert not path.exists()
    finished_run(path)  # a run that never wrote one ends as well
