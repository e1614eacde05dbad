"""Exceptions that carry an HTTP status and a neutral kind.

Raised once anywhere below the server and rendered once, by the provider that owns the
route, into that provider's own error body, status and headers.
"""

from __future__ import annotations

import enum


class ErrorKind(enum.StrEnum):
    """Neutral error categories; each provider maps them to its own type strings."""

    INVALID_REQUEST = "invalid_request"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    CONTEXT_LENGTH = "context_length"
    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    OVERLOADED = "overloaded"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"


_DEFAULT_STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID_REQUEST: 400,
    ErrorKind.AUTHENTICATION: 401,
    ErrorKind.PERMISSION: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.METHOD_NOT_ALLOWED: 405,
    ErrorKind.PAYLOAD_TOO_LARGE: 413,
    ErrorKind.CONTEXT_LENGTH: 400,
    ErrorKind.RATE_LIMIT: 429,
    ErrorKind.SERVER_ERROR: 500,
    ErrorKind.OVERLOADED: 529,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.TIMEOUT: 504,
}


def default_status(kind: ErrorKind) -> int:
    """The HTTP status an error of ``kind`` has unless one is chosen explicitly."""
    return _DEFAULT_STATUS[kind]


class SimulatorError(Exception):
    """An error that ends a request with a provider-shaped error response.

    ``param`` names the offending request field (dotted path) when there is one; ``code`` is
    a machine-readable code such as ``model_not_found``.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.param = param
        self.code = code
        self.status = status if status is not None else _DEFAULT_STATUS[kind]


def invalid(message: str, param: str | None = None, code: str | None = None) -> SimulatorError:
    """Build a 400 invalid-request error naming the offending field."""
    return SimulatorError(ErrorKind.INVALID_REQUEST, message, param=param, code=code)
