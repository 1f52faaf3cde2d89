"""The Azure Retail Prices API (https://prices.azure.com/api/retail/prices): unauthenticated,
OData `$filter`, pages of `Items` chained by `NextPageLink`. Filter values are case-sensitive
from api-version 2023-01-01-preview on, so sizes are asked in the region's listed spelling.

Meters kept: type Consumption, unitOfMeasure "1 Hour", Linux (productName without "Windows");
skuName ending in " Low Priority" (else " Spot") is the low-priority price, a skuName without
either suffix the dedicated one.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.parse
import urllib.request

from aml_bridge.model.prices import Key, key

PUBLIC_API = "https://prices.azure.com/api/retail/prices"
API_VERSION = "2023-01-01-preview"
LOW = (" Low Priority", " Spot")
MAX_PAGES = 20


def api_url(endpoint: str | None) -> str:
    """The public API, or the same path on a non-Azure control plane (--aml-endpoint)."""
    return f"{endpoint.rstrip('/')}/api/retail/prices" if endpoint else PUBLIC_API


def fetch_prices(base: str, vm_size: str, region: str, timeout_s: float = 30) -> dict[Key, float]:
    """Dedicated and low-priority prices of one size in one region; {} when none is listed."""
    query = (
        f"serviceName eq 'Virtual Machines' and armSkuName eq '{vm_size}' "
        f"and armRegionName eq '{region}' and type eq 'Consumption'"
    )
    url = f"{base}?{urllib.parse.urlencode({'api-version': API_VERSION, '$filter': query})}"
    # the CA the SDK is told to trust (a local control plane's own certificate)
    tls = ssl.create_default_context(cafile=os.environ.get("REQUESTS_CA_BUNDLE"))
    items = []
    for _ in range(MAX_PAGES):
        with urllib.request.urlopen(url, timeout=timeout_s, context=tls) as r:
            page = json.loads(r.read())
        items += page.get("Items", [])
        url = page.get("NextPageLink")
        if not url:
            break
    return prices_of(items)


def prices_of(items: list[dict]) -> dict[Key, float]:
    found: dict[Key, float] = {}
    spot: dict[Key, float] = {}
    for item in items:
        if item.get("type") != "Consumption" or item.get("unitOfMeasure") != "1 Hour":
            continue
        if "Windows" in item.get("productName", "") or item.get("currencyCode", "USD") != "USD":
            continue
        sku = item.get("skuName", "")
        tier = "low_priority" if sku.endswith(LOW) else "dedicated"
        k = key(item["armSkuName"], item["armRegionName"], tier)
        (spot if sku.endswith(" Spot") else found)[k] = float(item["retailPrice"])
    return {**spot, **found}  # a Low Priority meter wins over a Spot one
