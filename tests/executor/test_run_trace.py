"""The run trace's cost side: the price tables (shipped, the user's) and the Retail Prices API
as the local service answers it; the local service's own node accounting."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from aml_bridge.gateway.retail_prices import api_url, fetch_prices, prices_of
from aml_bridge.model.prices import key, load_prices, parse_table, shipped_table
from aml_local.scheduler import Scheduler
from aml_local.vm_sizes import VM_SIZES

HEADER = "vm_size\tregion\ttier\tusd_per_hour\n"


def test_shipped_table_prices_every_size_the_local_service_offers_in_both_tiers():
    prices = load_prices()
    for size in VM_SIZES:
        for tier in ("dedicated", "low_priority"):
            assert prices[key(size, "eastus", tier)] > 0
        assert (
            prices[key(size, "eastus", "low_priority")] < prices[key(size, "eastus", "dedicated")]
        )
    assert "https://prices.azure.com/api/retail/prices" in shipped_table()  # its source


def test_user_table_rows_win_over_the_shipped_ones(tmp_path):
    own = tmp_path / "prices.tsv"
    own.write_text(
        f"# negotiated\n{HEADER}Standard_D8s_v3\teastus\tdedicated\t0.25\n"
        "Standard_D8s_v3\tswedencentral\tdedicated\t0.4\n"
    )
    prices = load_prices(own)
    assert prices[key("STANDARD_D8S_V3", "eastus", "dedicated")] == 0.25
    assert prices[key("Standard_D8s_v3", "swedencentral", "dedicated")] == 0.4
    assert prices[key("Standard_D2s_v3", "eastus", "dedicated")] == 0.096  # shipped, kept


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("vm_size\tregion\tusd_per_hour\n", "line 1: header must be"),
        (f"{HEADER}Standard_D2s_v3\teastus\tspot\t0.1\n", "line 2: tier 'spot'"),
        (f"{HEADER}Standard_D2s_v3\teastus\tdedicated\tcheap\n", "line 2: usd_per_hour 'cheap'"),
        (f"{HEADER}Standard_D2s_v3 eastus dedicated 0.1\n", "line 2: 1 columns"),
        ("# only a comment\n", "no header line"),
    ],
)  # fmt: skip
def test_a_bad_price_table_is_an_error_naming_its_line(text, error):
    with pytest.raises(ValueError, match=error):
        parse_table(text, "mine.tsv")


def test_bad_user_table_fails_the_settings_check(tmp_path):
    from snakemake_interface_common.exceptions import WorkflowError

    from aml_bridge.model.settings import ExecutorSettings, validate

    bad = tmp_path / "p.tsv"
    bad.write_text("vm_size\tregion\ttier\tusd_per_hour\nStandard_D2s_v3\teastus\tdedicated\t-1\n")
    settings = ExecutorSettings(spec_dir=tmp_path, prices=bad)
    with pytest.raises(WorkflowError, match=r"--aml-prices: .*p.tsv line 2: usd_per_hour '-1'"):
        validate(settings)
    with pytest.raises(WorkflowError, match=r"--aml-prices: .*missing.tsv: No such file"):
        validate(ExecutorSettings(spec_dir=tmp_path, prices=tmp_path / "missing.tsv"))


def _get(service, query: dict[str, str]) -> tuple[int, dict]:
    url = f"{api_url(service.base_url)}?{urllib.parse.urlencode(query)}"
    tls = ssl.create_default_context(cafile=service.ca_bundle)
    try:
        with urllib.request.urlopen(url, context=tls, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_bridge_reads_both_tiers_from_the_local_retail_prices_api(aml_service):
    """No credentials (the public API takes none); the same prices as the shipped table."""
    found = fetch_prices(api_url(aml_service.base_url), "Standard_D4s_v3", "westeurope")
    table = load_prices()
    assert found == {
        key("Standard_D4s_v3", "westeurope", t): table[key("Standard_D4s_v3", "westeurope", t)]
        for t in ("dedicated", "low_priority")
    }
    # filter values are case-sensitive (api-version 2023-01-01-preview on): nothing listed
    assert fetch_prices(api_url(aml_service.base_url), "standard_d4s_v3", "westeurope") == {}


def test_retail_prices_api_pages_and_refuses_a_filter_it_cannot_read(aml_service):
    """A meter per row of the shipped table; `$skip` pages through them."""
    query = {"$filter": "serviceName eq 'Virtual Machines'"}
    status, first = _get(aml_service, query)
    assert status == 200 and len(first["Items"]) == len(load_prices())
    assert first["NextPageLink"] is None  # fewer than a page (100)
    item = first["Items"][0]
    assert item["unitOfMeasure"] == "1 Hour" and item["type"] == "Consumption"
    status, rest = _get(aml_service, {**query, "$skip": "40"})
    assert rest["Items"] == first["Items"][40:]
    status, body = _get(aml_service, {"$filter": "contains(armSkuName, 'D4')"})
    assert status == 400 and "Invalid $filter term" in body["error"]["message"]


def test_scheduler_accounts_each_jobs_nodes_from_dispatch_to_release(tmp_path):
    """A 2-node job holds both nodes for as long as it runs: twice its seconds."""
    ran: dict[str, float] = {}

    def start(name: str, _nodes: list) -> bool:
        began = time.monotonic()
        time.sleep(0.3)
        ran[name] = time.monotonic() - began
        return False

    scheduler = Scheduler(2, start, tmp_path / "nodes", cluster="c")
    scheduler.submit("two", nodes=2)
    scheduler.submit("one", nodes=1)
    deadline = time.monotonic() + 30
    while len(scheduler.usage.report({})) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    scheduler.stop()
    usage = scheduler.usage.report({})
    assert usage["two"]["nodes"] == 2 and usage["two"]["cluster"] == "c"
    assert usage["two"]["node_s"] >= 2 * ran["two"]
    assert usage["one"]["node_s"] >= ran["one"]
    assert usage["one"]["node_s"] < usage["two"]["node_s"]
    # steps are reported under their pipeline job, summed
    nested = scheduler.usage.report({"two": "pipe", "one": "pipe"})
    assert set(nested) == {"pipe"}
    assert nested["pipe"]["node_s"] == usage["two"]["node_s"] + usage["one"]["node_s"]


def _meter(sku_name: str, price: float, product: str = "Virtual Machines DSv3 Series") -> dict:
    return {
        "armSkuName": "Standard_D4s_v3", "armRegionName": "eastus", "retailPrice": price,
        "unitOfMeasure": "1 Hour", "skuName": sku_name, "type": "Consumption",
        "currencyCode": "USD", "productName": product,
    }  # fmt: skip


def test_retail_meters_give_linux_dedicated_and_low_priority_prices():
    """Windows meters and reservations are not what a cluster node costs; a Low Priority
    meter wins over a Spot one, a Spot one stands in when there is no Low Priority meter."""
    d4 = ("Standard_D4s_v3", "eastus")
    items = [
        _meter("D4s v3", 0.192),
        _meter("D4s v3", 0.376, "Virtual Machines DSv3 Series Windows"),
        _meter("D4s v3 Spot", 0.02),
        _meter("D4s v3 Low Priority", 0.0384),
        {**_meter("D4s v3", 1000.0), "type": "Reservation", "unitOfMeasure": "1 Year"},
    ]
    assert prices_of(items) == {key(*d4, "dedicated"): 0.192, key(*d4, "low_priority"): 0.0384}
    assert prices_of(items[:3]) == {key(*d4, "dedicated"): 0.192, key(*d4, "low_priority"): 0.02}
