"""Managed identities and the tokens the service issues and accepts.

Azure ML compute exposes the node's managed identity to jobs through `MSI_ENDPOINT` +
`MSI_SECRET`; azure-identity's ManagedIdentityCredential (and so DefaultAzureCredential) then
sends `GET MSI_ENDPOINT?api-version=2017-09-01&resource=<resource>[&clientid=<id>]` with the
header `secret: MSI_SECRET` (msal's `_obtain_token_on_machine_learning`) and wants
`{"access_token", "expires_on", "resource", "token_type"}` back. The service serves the same
endpoint: each cluster's identity has its own secret, and so has the "user" the launcher's
environment signs in as (in place of `az login`). On Azure ML compute the endpoint wants the
identity's client id, a system-assigned one's too, and every job with an identity sees it in
`DEFAULT_IDENTITY_CLIENT_ID` (azure-sdk-for-python #33325, PR #36047): a node's token request
without it is refused.

Tokens are JWTs signed with a key kept in the state folder (`identity/signing-key.pem`), with
what Azurite's `--oauth basic` checks (iss `https://sts.windows.net/<tenant>/`, aud, nbf, exp).
The API accepts only tokens it signed, for its own audience, like Azure does.

Cluster identities (the hook for the cluster list in workspace.py): `ClusterIdentity` per
cluster name, system-assigned for any cluster not named; configured with
`--cluster-identity NAME=system|none|user:<client-id>`.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

TENANT_ID = "00000000-0000-0000-0000-00000000feed"
ISSUER = f"https://sts.windows.net/{TENANT_ID}/"
STORAGE_RESOURCE = "https://storage.azure.com"
TOKEN_LIFETIME_S = 3600
MSI_PATH = "/_identity/msi/token"
USER_SECRET_FILE = "identity/user.secret"
ROLE_PREREQUISITE = (
    "the compute cluster needs a managed identity (system-assigned, or user-assigned) with the "
    "'Storage Blob Data Contributor' role on the datastore's storage account"
)
# What a node never inherits from the service's host: it gets credentials from its identity only.
CREDENTIAL_ENV_PREFIXES = ("MSI_", "IDENTITY_", "AZURE_CLIENT_", "AZURE_STORAGE_", "AZURE_TENANT_")
CREDENTIAL_ENV_NAMES = ("DEFAULT_IDENTITY_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE")
CREDENTIAL_ENV_SUFFIXES = ("_ACCOUNT_KEY", "_SAS_TOKEN", "_CONNECTION_STRING")


class TokenError(Exception):
    """A bearer token the service did not issue, or not for this audience; `code` is ARM's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ClusterIdentity:
    """A compute cluster's managed identity: "SystemAssigned", "UserAssigned" or "None"."""

    kind: str = "SystemAssigned"
    client_id: str | None = None  # the user-assigned identity's client id

    @classmethod
    def parse(cls, text: str) -> ClusterIdentity:
        """`system`, `none` or `user:<client-id>` (the CLI form)."""
        kind, _, client_id = text.partition(":")
        if kind == "system" and not client_id:
            return cls("SystemAssigned")
        if kind == "none" and not client_id:
            return cls("None")
        if kind == "user" and client_id:
            return cls("UserAssigned", client_id)
        raise ValueError(f"cluster identity {text!r}: expected system, none or user:<client-id>")


def cluster_identities(specs: list[str]) -> dict[str, ClusterIdentity]:
    """`NAME=system|none|user:<client-id>` items → identity per cluster name."""
    out = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not name:
            raise ValueError(f"cluster identity {spec!r}: expected NAME=system|none|user:<id>")
        out[name] = ClusterIdentity.parse(value)
    return out


def without_credentials(environ: dict[str, str]) -> dict[str, str]:
    """The host environment a node may inherit: no identity endpoint, key, SAS or client id."""
    return {
        k: v
        for k, v in environ.items()
        if not k.startswith(CREDENTIAL_ENV_PREFIXES)
        and k not in CREDENTIAL_ENV_NAMES
        and not k.endswith(CREDENTIAL_ENV_SUFFIXES)
    }


def _stable_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "aml-local:" + ":".join(parts)))


class Identities:
    """Signing key, endpoint secrets and cluster identities of one service (state kept on disk)."""

    def __init__(
        self, state_dir: Path, workspace_id: str, clusters: dict[str, ClusterIdentity]
    ) -> None:
        self.dir = state_dir / "identity"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.workspace_id = workspace_id
        self.clusters = dict(clusters)
        self._key = self._signing_key(self.dir / "signing-key.pem")
        self._public = self._key.public_key()
        self.user_secret = self._secret(state_dir / USER_SECRET_FILE)
        self._node_secrets: dict[str, str] = {}  # cluster → its nodes' endpoint secret
        self._lock = threading.Lock()  # jobs start on several threads
        self._node_file = self.dir / "nodes.json"
        if self._node_file.exists():
            self._node_secrets = json.loads(self._node_file.read_text())

    @staticmethod
    def _signing_key(path: Path) -> ec.EllipticCurvePrivateKey:
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            return key
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(path, pem)
        return key

    @staticmethod
    def _secret(path: Path) -> str:
        if path.exists():
            return path.read_text().strip()
        value = secrets.token_urlsafe(32)
        _write_private(path, value.encode())
        return value

    def identity_of(self, cluster: str) -> ClusterIdentity:
        return self.clusters.get(cluster, ClusterIdentity())

    # -- what a job on a cluster's node sees -----------------------------------------------------
    def node_environment(self, cluster: str, endpoint: str) -> dict[str, str]:
        """MSI_ENDPOINT, MSI_SECRET and DEFAULT_IDENTITY_CLIENT_ID; nothing without an identity."""
        identity = self.identity_of(cluster)
        if identity.kind == "None":
            return {}
        with self._lock:
            secret = self._node_secrets.get(cluster)
            if secret is None:
                secret = self._node_secrets[cluster] = secrets.token_urlsafe(32)
                _write_private(self._node_file, json.dumps(self._node_secrets).encode())
        return {
            "MSI_ENDPOINT": endpoint,
            "MSI_SECRET": secret,
            "DEFAULT_IDENTITY_CLIENT_ID": self._client_id(cluster, identity),
        }

    def _client_id(self, cluster: str, identity: ClusterIdentity) -> str:
        if identity.kind == "UserAssigned":
            return identity.client_id or ""
        return _stable_id(self.workspace_id, "computes", cluster, "client")

    # -- the managed-identity endpoint -------------------------------------------------------------
    def msi_token(self, secret: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """(status, body) for one token request to the endpoint (OAuth-style errors)."""
        if not secret:
            return 401, _oauth_error("unauthorized", "The 'secret' header is missing.")
        resource = query.get("resource", "").strip()
        if not resource:
            return 400, _oauth_error("invalid_request", "The 'resource' parameter is required.")
        client_id = query.get("clientid") or query.get("client_id")
        given = secret.encode("utf-8", "replace")
        if secrets.compare_digest(given, self.user_secret.encode()):
            claims = {"oid": _stable_id(self.workspace_id, "user"), "idtyp": "user"}
            return 200, self._token_response(resource, claims, None)
        with self._lock:
            nodes = list(self._node_secrets.items())
        cluster = next((c for c, s in nodes if secrets.compare_digest(given, s.encode())), None)
        if cluster is None:
            return 401, _oauth_error("unauthorized", "The 'secret' header is not valid.")
        identity = self.identity_of(cluster)
        if identity.kind == "None":
            return 400, _no_identity(cluster, "no managed identity")
        appid = self._client_id(cluster, identity)
        if not client_id:
            return 400, _oauth_error(
                "invalid_request",
                "The request names no client id: on Azure ML compute pass the identity's client "
                "id (DEFAULT_IDENTITY_CLIENT_ID), e.g. ManagedIdentityCredential(client_id=...).",
            )
        if client_id != appid:
            return 400, _no_identity(cluster, f"no identity with client id {client_id}")
        claims = {"oid": _stable_id(self.workspace_id, "identity", appid), "idtyp": "app"}
        return 200, self._token_response(resource, claims, appid)

    def _token_response(
        self, resource: str, claims: dict[str, Any], appid: str | None
    ) -> dict[str, Any]:
        now = int(time.time())
        expires = now + TOKEN_LIFETIME_S
        payload = {
            "aud": resource,
            "iss": ISSUER,
            "iat": now,
            "nbf": now - 60,
            "exp": expires,
            "tid": TENANT_ID,
            "sub": claims["oid"],
            **claims,
            **({"appid": appid} if appid else {}),
        }
        token = jwt.encode(payload, self._key, algorithm="ES256")
        return {
            "access_token": token,
            "expires_on": expires,
            "resource": resource,
            "token_type": "Bearer",
            **({"client_id": appid} if appid else {}),
        }

    # -- the API's check ------------------------------------------------------------------------
    def verify(self, token: str, audiences: list[str]) -> dict[str, Any]:
        """The claims of a token this service issued for one of `audiences`; else TokenError."""
        try:
            return jwt.decode(
                token,
                self._public,
                algorithms=["ES256"],
                audience=audiences,
                issuer=ISSUER,
                options={"require": ["exp", "nbf", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError(
                "ExpiredAuthenticationToken", f"The access token expired: {exc}"
            ) from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenError(
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for the wrong audience or resource "
                f"(expected {audiences[0]}): {exc}",
            ) from exc
        except jwt.InvalidTokenError as exc:
            raise TokenError(
                "InvalidAuthenticationToken", f"The access token is invalid: {exc}"
            ) from exc


def _oauth_error(code: str, description: str) -> dict[str, str]:
    return {"error": code, "error_description": description}


def _no_identity(cluster: str, what: str) -> dict[str, str]:
    return _oauth_error(
        "invalid_request", f"Compute cluster '{cluster}' has {what}: {ROLE_PREREQUISITE}."
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (created with that mode, never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.unlink(missing_ok=True)
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
        fh.write(data)
    tmp.replace(path)
