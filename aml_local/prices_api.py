"""`GET /api/retail/prices`: the Azure Retail Prices API's shape (unauthenticated; OData
`$filter` of `field eq 'value'` terms joined by `and`, values case-sensitive as in
api-version 2023-01-01-preview; pages of 100 `Items` chained by `NextPageLink`), answered from
the price table the bridge ships, so that a price refresh is tested against it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from aml_bridge.model.prices import shipped_table, table_rows

from .context import Context
from .errors import bad_request
from .routing import Request, Response, Router

PATH = "/api/retail/prices"
PAGE = 100
TERM = re.compile(r"^\s*(\w+)\s+eq\s+'([^']*)'\s*$")
FIELDS = {"serviceName", "armSkuName", "armRegionName", "type", "skuName", "priceType",
          "currencyCode", "productName", "unitOfMeasure"}  # fmt: skip


def items() -> list[dict[str, Any]]:
    """One Linux pay-as-you-go meter per row of the shipped table."""
    out = []
    for size, region, tier, price in table_rows(shipped_table(), "vm_prices.tsv"):
        sku = size.removeprefix("Standard_").replace("_", " ")  # Standard_D4s_v3 → D4s v3
        series = re.sub(r"\d+", "", sku).replace(" ", "")  # → Dsv3
        meter = sku + (" Low Priority" if tier == "low_priority" else "")
        out.append({
            "currencyCode": "USD", "retailPrice": price, "unitPrice": price,
            "armRegionName": region, "location": region, "serviceName": "Virtual Machines",
            "serviceFamily": "Compute", "productName": f"Virtual Machines {series} Series",
            "armSkuName": size, "skuName": meter, "meterName": meter,
            "type": "Consumption", "priceType": "Consumption", "unitOfMeasure": "1 Hour",
            "isPrimaryMeterRegion": True,
        })  # fmt: skip
    return out


def matching(filter_text: str) -> list[dict[str, Any]]:
    terms: dict[str, str] = {}
    for term in re.split(r"\s+and\s+", filter_text.strip()) if filter_text.strip() else []:
        m = TERM.match(term)
        if not m or m.group(1) not in FIELDS:
            raise bad_request(f"Invalid $filter term: {term!r}")
        terms[m.group(1)] = m.group(2)
    return [i for i in items() if all(i.get(k) == v for k, v in terms.items())]


def register(router: Router, ctx: Context) -> None:
    def prices(req: Request) -> Response:
        found = matching(req.query.get("$filter", ""))
        try:
            skip = int(req.query.get("$skip", "0"))
        except ValueError:
            raise bad_request("$skip must be an integer") from None
        page = found[skip : skip + PAGE]
        more = skip + PAGE < len(found)
        query = {**req.query, "$skip": str(skip + PAGE)}
        link = f"{ctx.ws.base_url}{PATH}?{urlencode(query)}" if more else None
        body = {"BillingCurrency": "USD", "CustomerEntityId": "Default",
                "CustomerEntityType": "Retail", "Items": page, "NextPageLink": link,
                "Count": len(page)}  # fmt: skip
        return Response(body=body)

    router.add("GET", PATH, prices)
