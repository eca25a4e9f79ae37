"""Errors as clients see them: ``{"error": {"code", "message"}}`` with a fitting status."""

from typing import Any

from meetings.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
)

_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Forbidden: 403,
    Unauthenticated: 401,
    Conflict: 409,
    InvalidInput: 422,
    RateLimited: 429,
}


class ApiError(Exception):
    """An error raised by the transport layer itself (bad JSON, CSRF, size...)."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def status_for(error: DomainError) -> int:
    """HTTP status for a domain error."""
    for cls in type(error).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 400


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error shape shared by HTTP responses and socket.io acks."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def validation_details(errors: list[Any]) -> list[dict[str, Any]]:
    """Pydantic errors without the input echo (it may hold passwords)."""
    return [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type")}
        for e in errors
    ]
