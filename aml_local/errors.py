"""Azure-ML-shaped error responses: `{"error": {"code": ..., "message": ...}}` with a status."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Raised by a handler; the server turns it into an error response."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def not_found(kind: str, name: str) -> ServiceError:
    return ServiceError(404, "UserError", f"{kind} '{name}' was not found in this workspace.")


def bad_request(message: str) -> ServiceError:
    return ServiceError(400, "UserError", message)
