"""HTTPS front door: auth and throttling checks, routing, the blob proxy, the request log."""

from __future__ import annotations

import json
import ssl
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from .blobs import BLOB_PROXY_PREFIX
from .context import Context
from .errors import ServiceError
from .faults import DroppedConnection
from .identity import ISSUER, MSI_PATH, Identities, TokenError
from .routing import Request, Response, Router

API_PREFIXES = ("/subscriptions/", "/history/")
CONTROL_PREFIX = "/_local/"  # test plumbing: not throttled, not authenticated, not logged
IDENTITY_PREFIX = "/_identity/"  # the nodes' managed-identity endpoint (secret header)
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


def check_bearer(headers: dict[str, str], identities: Identities, audiences: list[str]) -> None:
    """The API wants a bearer token this service issued for its audience, as Azure does."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token:
            raise TokenError("AuthenticationFailed", "Authentication failed: no bearer token.")
        identities.verify(token, audiences)
    except TokenError as exc:
        challenge = (
            f'Bearer authorization_uri="{ISSUER}", error="invalid_token", '
            f'error_description="{exc.code}"'
        )
        raise ServiceError(401, exc.code, str(exc), {"WWW-Authenticate": challenge}) from exc


class Dispatcher:
    """Turns one request into (route name, response); shared by all handler threads."""

    def __init__(self, ctx: Context, router: Router, identities: Identities) -> None:
        self.ctx, self.router, self.identities = ctx, router, identities
        base = ctx.ws.base_url.rstrip("/")
        self.audiences = [base, base + "/"]  # the SDK asks for "<resource manager>/.default"

    def identity_token(self, method: str, target: str, headers: dict[str, str]) -> Response:
        """The managed-identity endpoint (MSI_ENDPOINT): not Azure ML's API, not logged."""
        parts = urlsplit(target)
        if method != "GET" or parts.path.rstrip("/") != MSI_PATH:
            raise ServiceError(404, "NotFound", f"No route for {method} {parts.path}.")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        status, body = self.identities.msi_token(headers.get("secret", ""), query)
        return Response(status, body)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes):
        parts = urlsplit(target)
        route_name = "unmatched"
        try:
            route, params = self.router.match(method, parts.path)
            route_name = route.template
            if parts.path.startswith(API_PREFIXES):
                check_bearer(headers, self.identities, self.audiences)
                refusal = self.ctx.faults.throttle()
                if refusal:
                    raise refusal
                if "workspaceName" in params and not self.ctx.ws.is_this(params):
                    raise ServiceError(
                        404, "ResourceNotFound", f"Workspace '{params['workspaceName']}' not found."
                    )
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            response = route.handler(Request(method, parts.path, params, query, headers, body))
        except ServiceError as exc:
            response = Response(exc.status, exc.body(), exc.headers)
        except DroppedConnection:  # injected fault: the work is done, the answer lost
            return route_name, None
        except Exception as exc:  # report, keep serving
            traceback.print_exc(file=sys.stderr)
            response = Response(500, ServiceError(500, "InternalError", str(exc)).body())
        return route_name, response


def make_handler(dispatcher: Dispatcher) -> type[BaseHTTPRequestHandler]:
    ctx = dispatcher.ctx

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "aml-local-service"
        disable_nagle_algorithm = True  # else keep-alive replies wait ~40 ms for delayed ACKs

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Requests go to the request log, not stderr."""

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()  # the CRLF after each chunk
                while self.rfile.readline().strip():  # optional trailers, then a blank line
                    pass
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _dispatch(self) -> None:
            body = self._read_body()
            headers = {k.lower(): v for k, v in self.headers.items()}
            if self.path.startswith(BLOB_PROXY_PREFIX + "/"):
                status, resp_headers, data = self._proxy(body)
                ctx.log.add(self.command, BLOB_PROXY_PREFIX + "/{path:path}", status)
                self._send(status, resp_headers, data)
                return
            if self.path.startswith(IDENTITY_PREFIX):
                try:
                    response = dispatcher.identity_token(self.command, self.path, headers)
                except ServiceError as exc:
                    response = Response(exc.status, exc.body(), exc.headers)
                route = CONTROL_PREFIX  # not Azure ML's API: never in the request log
            else:
                route, response = dispatcher.handle(self.command, self.path, headers, body)
            if response is None:
                ctx.log.add(self.command, route, 0)  # status 0: no answer sent
                self.close_connection = True
                return
            if not route.startswith(CONTROL_PREFIX):
                ctx.log.add(self.command, route, response.status)
            data = b""
            out_headers = dict(response.headers)
            if response.body is not None:
                data = json.dumps(response.body).encode()
                out_headers["Content-Type"] = "application/json; charset=utf-8"
            out_headers.setdefault("x-ms-request-id", "local")
            self._send(response.status, out_headers, data)

        def _proxy(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
            """Forward to Azurite; the SAS in the query authorises the request."""
            target = self.path[len(BLOB_PROXY_PREFIX) :]
            conn = ctx.stores.connection(timeout=60)
            try:
                fwd = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                fwd["Content-Length"] = str(len(body))
                conn.request(self.command, target, body=body, headers=fwd)
                resp = conn.getresponse()
                data = resp.read()
                agent = self.headers.get("User-Agent", "")
                ctx.stores.traffic.add_request(
                    self.command,
                    target,
                    resp.status,
                    len(body),
                    len(data),
                    agent,
                    resp.getheader("Content-Range"),
                )
                headers = {k: v for k, v in resp.getheaders() if k.lower() not in HOP_HEADERS}
                if self.command == "HEAD":  # no body: the length is the blob's, as upstream says
                    headers["Content-Length"] = resp.getheader("Content-Length") or "0"
                return resp.status, headers, data
            except OSError as exc:
                msg = f"Storage is unreachable: {exc}".encode()
                return 502, {"Content-Type": "text/plain"}, msg
            finally:
                conn.close()

        def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD" and data:
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _dispatch

    return Handler


class HTTPSServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port: int, handler: type, cert: Path, key: Path) -> None:
        super().__init__(("127.0.0.1", port), handler)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        self.socket = tls.wrap_socket(self.socket, server_side=True)
