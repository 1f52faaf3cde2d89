"""The demo data under `--profile aml` on two clusters of the local service: the BAMs of a local
run, and a run trace where every job has a row whose node-seconds are what the service itself
accounted (as Azure would bill)."""

from __future__ import annotations

import csv
import re
from collections import defaultdict

import pytest

from aml_bridge.model.prices import key, load_prices
from aml_bridge.model.trace_read import COLUMNS
from tests.executor.conftest import QC_CLUSTER, STEP_DEFAULT_TIMEOUT_S, AmlRun, run_on
from tests.executor.test_e2e_profile import alignments, demo_rows, download, local_and_aml_runs
from tests.fixtures.workflow import make_demo_data, snakemake

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


def test_demo_on_two_clusters_gives_the_local_bams_and_a_trace_of_every_job(tmp_path, priced_run):
    data = make_demo_data(tmp_path / "demo", "--pairs", "300", "--genome-size", "20000")
    clusters = ("--aml-clusters", "genomics-cluster", QC_CLUSTER)
    refresh = "--aml-refresh-prices"  # the prices as the service's API lists them
    local, wf, args = local_and_aml_runs(
        tmp_path, priced_run, data, demo_rows(), "data/reference.fa", *clusters, refresh
    )
    for sample in "ABC":
        bam = download(priced_run, f"results/mapped/{sample}.bam", tmp_path / f"{sample}.bam")
        assert alignments(bam) == alignments(local / f"results/mapped/{sample}.bam")
    stats = download(
        priced_run,
        "results/qc/multiqc_report_data/multiqc_general_stats.txt",
        tmp_path / "general_stats.txt",
    ).read_text()
    assert all(f"\n{sample}" in stats for sample in "ABC")

    planned = planned_jobs(wf, ["--forceall", *args])
    traces = (wf / ".snakemake" / "aml" / "trace").glob("*.tsv")
    [path] = [t for t in traces if len(t.read_text().splitlines()) > 1]  # the rerun did nothing
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
        # within 5 %, or 1 s for short jobs (the service counts the input download before Running)
        assert node_s == pytest.approx(usage[job]["node_s"], rel=0.05, abs=1.0), job

    prices = load_prices()
    tiers = {"genomics-cluster": "low_priority", QC_CLUSTER: "dedicated"}
    for row in rows:
        price = prices[key(row["vm_size"], "eastus", tiers[row["cluster"]])]
        assert row["tier"] == tiers[row["cluster"]]
        assert float(row["price_per_hour"]) == pytest.approx(price)
        cost = float(row["node_s"]) / 3600 * price
        assert float(row["cost_usd"]) == pytest.approx(cost, abs=1e-4)
