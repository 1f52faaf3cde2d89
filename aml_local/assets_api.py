"""Versioned assets: environments, codes, components and data, with `nextVersion` (and the
container's `latestVersion`, the most recently created, behind `@latest`) and code upload."""

from __future__ import annotations

import uuid
from typing import Any

from .context import Context
from .errors import ServiceError, bad_request, not_found
from .routing import Request, Response, Router
from .validation import check_name, validate
from .workspace import PROVIDER, now_iso

SERVER_FIELD = "provisioningState"  # added by the service, not part of what clients send
NAMED = {"environments", "components"}  # names Azure ML restricts to its name pattern
KINDS = {
    "environments": ("EnvironmentVersion", "Environment"),
    "codes": ("CodeVersion", "Code"),
    "components": ("ComponentVersion", "Component"),
    "data": ("DataVersionBase", "Data"),  # data assets: uri_file / uri_folder on a datastore
}


def _next_version(versions: list[dict[str, Any]]) -> str:
    numeric = [int(v["name"]) for v in versions if v["name"].isdigit()]
    return str(max(numeric) + 1) if numeric else "1"


def register(router: Router, ctx: Context) -> None:
    def versions_of(kind: str, name: str) -> list[dict[str, Any]]:
        return ctx.store.values(kind, prefix=f"{name}/")

    def container(kind: str, name: str) -> dict[str, Any]:
        versions = versions_of(kind, name)
        if not versions:
            raise not_found(KINDS[kind][1], name)
        return {
            "id": ctx.ws.child_id(kind, name),
            "name": name,
            "type": f"{PROVIDER}/workspaces/{kind}",
            "properties": {
                "latestVersion": versions[-1]["name"],
                "nextVersion": _next_version(versions),
                "isArchived": False,
            },
        }

    def make_handlers(kind: str) -> None:
        model, label = KINDS[kind]

        def put_version(req: Request) -> Response:
            if kind in NAMED:
                check_name(label, req.params["name"])
            body = req.json()
            errors = validate(model, body)
            if errors:
                raise bad_request(f"Invalid {label.lower()} version: " + "; ".join(errors))
            name, version = req.params["name"], req.params["version"]
            existing = ctx.store.get(kind, f"{name}/{version}")
            if existing is not None:
                stored = {k: v for k, v in existing["properties"].items() if k != SERVER_FIELD}
                if stored != body["properties"]:
                    raise ServiceError(
                        409, "UserError",
                        f"{label} {name}:{version} already exists with different content; "
                        "versions are immutable, register a new version.",
                    )  # fmt: skip
                return Response(200, existing)
            doc = {
                "id": ctx.ws.child_id(kind, name, version),
                "name": version,
                "type": f"{PROVIDER}/workspaces/{kind}/versions",
                "properties": {**body["properties"], SERVER_FIELD: "Succeeded"},
                "systemData": {"createdAt": now_iso(), "createdBy": "local"},
            }
            ctx.store.put(kind, f"{name}/{version}", doc)
            return Response(201, doc)

        def get_version(req: Request) -> Response:
            name, version = req.params["name"], req.params["version"]
            doc = ctx.store.get(kind, f"{name}/{version}")
            if doc is None:
                raise not_found(label, f"{name}:{version}")
            return Response(body=doc)

        def list_versions(req: Request) -> Response:
            wanted = req.query.get("hash")
            # with a hash, "CodeVersion assets with specified content hash value, regardless of
            # name" (REST CodeVersions_List): the SDK reuses the code asset of the same content
            docs = ctx.store.values(kind) if wanted else versions_of(kind, req.params["name"])
            if wanted:
                docs = [
                    d
                    for d in docs
                    if (d["properties"].get("properties") or {}).get("hash_sha256") == wanted
                ]
            return Response(body={"value": list(reversed(docs))})

        def get_container(req: Request) -> Response:
            return Response(body=container(kind, req.params["name"]))

        def list_containers(_: Request) -> Response:
            """`ml.<assets>.list()`: one container per name (its id ends in /versions/<v>)."""
            names = dict.fromkeys(d["id"].split("/")[-3] for d in ctx.store.values(kind))
            return Response(body={"value": [container(kind, name) for name in names]})

        router.add("PUT", f"{{WS}}/{kind}/{{name}}/versions/{{version}}", put_version)
        router.add("GET", f"{{WS}}/{kind}/{{name}}/versions/{{version}}", get_version)
        router.add("GET", f"{{WS}}/{kind}/{{name}}/versions", list_versions)
        router.add("GET", f"{{WS}}/{kind}/{{name}}", get_container)
        router.add("GET", f"{{WS}}/{kind}", list_containers)

    for kind in KINDS:
        make_handlers(kind)

    def start_pending_upload(_: Request) -> Response:
        """A fresh temporary container per upload, as Azure ML hands out for code snapshots."""
        temp = f"code-{uuid.uuid4().hex[:24]}"
        ctx.stores.create_container(temp)
        url = ctx.blob_url(temp)
        sas = ctx.stores.sas_token(temp, write=True, hours=2)
        return Response(
            body={
                "pendingUploadId": temp,
                "pendingUploadType": "TemporaryBlobReference",
                "blobReferenceForConsumption": {
                    "blobUri": url,
                    "credential": {"credentialType": "SAS", "sasUri": f"{url}?{sas}"},
                },
            }
        )

    router.add(
        "POST", "{WS}/codes/{name}/versions/{version}/startPendingUpload", start_pending_upload
    )
