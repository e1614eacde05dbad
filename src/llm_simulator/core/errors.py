"""Exceptions that carry an HTTP status and a neutral kind.

Raised once anywhere below the server and rendered once, by the provider that owns the
route, into that provider's own error body, status and headers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


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
    QUOTA_EXHAUSTED = "quota_exhausted"
    CONTENT_FILTER = "content_filter"
    SERVER_ERROR = "server_error"
    BAD_GATEWAY = "bad_gateway"
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
    ErrorKind.QUOTA_EXHAUSTED: 429,
    ErrorKind.CONTENT_FILTER: 400,
    ErrorKind.SERVER_ERROR: 500,
    ErrorKind.BAD_GATEWAY: 502,
    ErrorKind.OVERLOADED: 529,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.TIMEOUT: 504,
}


def default_status(kind: ErrorKind) -> int:
    """The HTTP status an error of ``kind`` has unless one is chosen explicitly."""
    return _DEFAULT_STATUS[kind]


@dataclass(frozen=True, slots=True)
class LimitHit:
    """Which rate limit a request ran into, for the provider's 429 message and details.

    ``resource`` is ``requests``, ``tokens``, ``input_tokens`` or ``output_tokens``;
    ``window`` is ``minute`` or ``day``.
    """

    resource: str
    window: str
    limit: int
    used: int
    requested: int
    model: str
    key: str
    # The tier's name (``tier<N>`` for an unnamed one), for the rate-limit counters.
    tier: str = ""


class SimulatorError(Exception):
    """An error that ends a request with a provider-shaped error response.

    ``param`` names the offending request field (dotted path) when there is one; ``code`` is
    a machine-readable code such as ``model_not_found``. ``retry_after_s`` becomes the
    provider's retry hint (``retry-after`` headers, Gemini's ``RetryInfo``); ``should_retry``
    overrides OpenAI-style ``x-should-retry``; ``limit`` describes a rate-limit refusal.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        retry_after_s: float | None = None,
        should_retry: bool | None = None,
        limit: LimitHit | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.param = param
        self.code = code
        self.status = status if status is not None else _DEFAULT_STATUS[kind]
        # Chosen by the raiser (a fixture, a chaos rule): providers then keep it as is, even
        # where their own status for the kind differs (Anthropic's 529 for unavailable).
        self.explicit_status = status is not None
        # A message chosen by the user (a chaos rule's, a fixture's) is sent as written;
        # otherwise a provider may use its own wording for the kind (Anthropic's "invalid
        # x-api-key").
        self.explicit_message = False
        self.retry_after_s = retry_after_s
        self.should_retry = should_retry
        self.limit = limit


def invalid(message: str, param: str | None = None, code: str | None = None) -> SimulatorError:
    """Build a 400 invalid-request error naming the offending field."""
    return SimulatorError(ErrorKind.INVALID_REQUEST, message, param=param, code=code)
