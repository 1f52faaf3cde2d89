"""Path templates → handlers; the template is also the route name the request log records."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ServiceError

WS = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
    "/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}"
)


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    def json(self) -> Any:
        import json

        if not self.body:
            raise ServiceError(400, "UserError", "The request body is empty.")
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ServiceError(400, "UserError", f"The request body is not JSON: {exc}") from exc


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]


@dataclass
class Route:
    method: str
    template: str
    pattern: re.Pattern
    handler: Handler


def compile_template(template: str) -> re.Pattern:
    """`{name}` matches one path segment, `{name:path}` the rest; literals match any case (ARM)."""
    out, pos = [], 0
    for m in re.finditer(r"\{(\w+)(:path)?\}", template):
        out.append(re.escape(template[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("^" + "".join(out) + "/?$", re.IGNORECASE)


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        template = template.replace("{WS}", WS)
        self.routes.append(Route(method, template, compile_template(template), handler))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m:
                if route.method == method:
                    return route, m.groupdict()
                allowed = True
        if allowed:
            raise ServiceError(405, "MethodNotAllowed", f"{method} is not supported on {path}.")
        raise ServiceError(404, "NotFound", f"No route for {method} {path}.")
