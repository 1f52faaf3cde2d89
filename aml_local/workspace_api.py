"""Workspace, discovery, compute (clusters and the region's VM sizes) and datastore routes."""

from __future__ import annotations

from typing import Any

from .blobs import BLOB_PROXY_PREFIX
from .context import Context
from .errors import ServiceError, not_found
from .routing import Request, Response, Router
from .vm_sizes import listing
from .workspace import BLOB_DATASTORE, PROVIDER

LOCATIONS = "/subscriptions/{subscriptionId}/providers/" + PROVIDER + "/locations/{location}"
VM_SIZES = LOCATIONS + "/vmSizes"
USAGES = LOCATIONS + "/usages"


def _datastore(ctx: Context, name: str) -> dict[str, Any]:
    container = ctx.stores.containers.get(name)
    if container is None:
        raise not_found("Datastore", name)
    proxied = f"{ctx.ws.base_url.split('://', 1)[1]}{BLOB_PROXY_PREFIX}/{ctx.stores.account}#"
    return {
        "id": ctx.ws.child_id("datastores", name),
        "name": name,
        "type": f"{PROVIDER}/workspaces/datastores",
        "properties": {
            "datastoreType": "AzureBlob",
            # The SDK builds https://{accountName}.blob.{endpoint}: the '#' turns the suffix
            # into a URL fragment, so this points its blob clients at the service's proxy.
            "accountName": proxied,
            "containerName": container,
            "endpoint": "core.windows.net",
            "protocol": "https",
            "credentials": {"credentialsType": "Sas", "secrets": None},
            "isDefault": name == BLOB_DATASTORE,
            "description": f"Azurite container {container}",
        },
    }


def register(router: Router, ctx: Context) -> None:
    def workspace(_: Request) -> Response:
        return Response(body=ctx.ws.resource())

    def discovery(_: Request) -> Response:
        return Response(body=ctx.ws.discovery())

    def compute(req: Request) -> Response:
        cluster = ctx.ws.cluster(req.params["name"])
        if cluster is None:
            raise ServiceError(
                404, "ResourceNotFound", f"Compute '{req.params['name']}' was not found."
            )
        return Response(
            body=ctx.ws.compute_resource(cluster, ctx.jobs.identities.identity_of(cluster.name))
        )

    def computes(_: Request) -> Response:
        return Response(
            body={
                "value": [
                    ctx.ws.compute_resource(c, ctx.jobs.identities.identity_of(c.name))
                    for c in ctx.ws.clusters
                ]
            }
        )

    def vm_sizes(req: Request) -> Response:
        _check_location(req)
        return Response(body=listing())

    def usages(req: Request) -> Response:
        _check_location(req)
        return Response(body=ctx.jobs.quota.listing())

    def _check_location(req: Request) -> None:
        if req.params["subscriptionId"] != ctx.ws.subscription_id:
            raise ServiceError(
                404, "SubscriptionNotFound",
                f"The subscription '{req.params['subscriptionId']}' could not be found.",
            )  # fmt: skip
        if req.params["location"].lower() != ctx.ws.location:
            raise ServiceError(
                400, "LocationNotAvailableForResourceType",
                f"The location '{req.params['location']}' is not available; "
                f"this service's location is '{ctx.ws.location}'.",
            )  # fmt: skip

    def datastore(req: Request) -> Response:
        return Response(body=_datastore(ctx, req.params["name"]))

    def datastores(req: Request) -> Response:
        docs = [_datastore(ctx, name) for name in ctx.stores.containers]
        if req.query.get("isDefault", "").lower() == "true":
            docs = [d for d in docs if d["properties"]["isDefault"]]
        return Response(body={"value": docs})

    def list_secrets(req: Request) -> Response:
        doc = _datastore(ctx, req.params["name"])
        sas = ctx.stores.sas_token(doc["properties"]["containerName"], write=True)
        return Response(body={"secretsType": "Sas", "sasToken": sas})

    router.add("GET", "{WS}", workspace)
    router.add("GET", "/discovery", discovery)
    router.add("GET", "{WS}/computes", computes)
    router.add("GET", "{WS}/computes/{name}", compute)
    router.add("GET", VM_SIZES, vm_sizes)
    router.add("GET", USAGES, usages)
    router.add("GET", "{WS}/datastores", datastores)
    router.add("GET", "{WS}/datastores/{name}", datastore)
    router.add("POST", "{WS}/datastores/{name}/listSecrets", list_secrets)
