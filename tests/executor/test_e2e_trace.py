"""The run trace of a `--profile aml` run of the demo data against the local service: every job
has a row, and its node-seconds are what the service itself accounted (as Azure would bill)."""

from __future__ import annotations

import csv
import re
from collections import defaultdict

import pytest

from aml_bridge.prices import key, load_prices
from aml_bridge.run_trace import COLUMNS
from tests.executor.conftest import QC_CLUSTER, STEP_DEFAULT_TIMEOUT_S, AmlRun, run_on
from tests.executor.test_e2e_profile import DEMO, profile_args
from tests.fixtures.workflow import copy_workflow, git_track, make_demo_data, snakemake

pytestmark = pytest.mark.slow


@pytest.fixture
def priced_run(fresh_aml_service, aml_azurite, monkeypatch) -> AmlRun:
    """A service in a priced region (eastus): the default low-priority Standard_D8s_v3 cluster
    and a dedicated Standard_D2s_v3 one."""
    service = fresh_aml_service(
        location="eastus",
        clusters=[f"{QC_CLUSTER}:Standard_D2s_v3:2"],
        step_timeout_s=STEP_DEFAULT_TIMEOUT_S,
    )
    return run_on(service, aml_azurite, monkeypatch)


def planned_jobs(wf, args) -> dict[str, int]:
    """Jobs per rule of the run, from Snakemake's dry run (the local rule `all` left out)."""
    out = snakemake(wf, "-n", *args).stdout
    table = out.split("Job stats:", 1)[1].split("total", 1)[0]
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}
    counts.pop("all")
    return counts


def test_trace_has_every_job_and_the_services_node_seconds(tmp_path, priced_run):
    wf = copy_workflow(tmp_path / "wf")
    make_demo_data(wf / "demo", "--pairs", "300", "--genome-size", "20000")
    sheet = wf / "demo" / "samples.tsv"
    sheet.write_text(sheet.read_text().replace(f"{wf}/", ""))
    git_track(wf, "demo/samples.tsv")
    clusters = ("--aml-clusters", "genomics-cluster", QC_CLUSTER)
    args = profile_args(priced_run, *DEMO, *clusters, "--retries", "0")
    planned = planned_jobs(wf, args)
    snakemake(wf, *args, "--aml-refresh-prices")  # the prices as the service's API lists them

    [path] = (wf / ".snakemake" / "aml" / "trace").glob("*.tsv")
    with path.open() as f:
        assert f.readline().rstrip("\n").split("\t") == list(COLUMNS)
    rows = list(csv.DictReader(path.open(), delimiter="\t"))
    per_rule: dict[str, int] = defaultdict(int)
    for row in rows:
        per_rule[row["rule"]] += 1
    assert dict(per_rule) == planned  # every job of the run, once (no retries)
    assert {r["status"] for r in rows} == {"Completed"}
    assert len({(r["rule"], r["wildcards"]) for r in rows}) == len(rows)
    assert {r["step"] for r in rows if r["rule"] == "fastqc"} == {"members"}

    usage = priced_run.service.usage()
    traced: dict[str, float] = defaultdict(float)
    for row in rows:
        traced[row["aml_job"]] += float(row["node_s"])
    for job, node_s in traced.items():
        assert node_s == pytest.approx(usage[job]["node_s"], rel=0.05), job

    prices = load_prices()
    tiers = {"genomics-cluster": "low_priority", QC_CLUSTER: "dedicated"}
    for row in rows:
        price = prices[key(row["vm_size"], "eastus", tiers[row["cluster"]])]
        assert row["tier"] == tiers[row["cluster"]]
        assert float(row["price_per_hour"]) == pytest.approx(price)
        cost = float(row["node_s"]) / 3600 * price
        assert float(row["cost_usd"]) == pytest.approx(cost, abs=1e-4)
