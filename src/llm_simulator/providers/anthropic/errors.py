"""Anthropic's error body: ``{"type": "error", "error": {"type", "message"}, "request_id"}``."""

from __future__ import annotations

import orjson

from llm_simulator.core.errors import ErrorKind, LimitHit, SimulatorError
from llm_simulator.core.http import JSON_CONTENT_TYPE, JsonResponse
from llm_simulator.core.sse import sse_frame
from llm_simulator.providers.retry_hints import retry_after_headers

_TYPE: dict[ErrorKind, str] = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.METHOD_NOT_ALLOWED: "invalid_request_error",
    ErrorKind.PAYLOAD_TOO_LARGE: "request_too_large",
    ErrorKind.CONTEXT_LENGTH: "invalid_request_error",
    ErrorKind.RATE_LIMIT: "rate_limit_error",
    ErrorKind.QUOTA_EXHAUSTED: "invalid_request_error",
    ErrorKind.CONTENT_FILTER: "invalid_request_error",
    ErrorKind.SERVER_ERROR: "api_error",
    ErrorKind.BAD_GATEWAY: "api_error",
    ErrorKind.OVERLOADED: "overloaded_error",
    ErrorKind.UNAVAILABLE: "overloaded_error",
    ErrorKind.TIMEOUT: "timeout_error",
}

# Anthropic signals "temporarily unable to serve" with its own 529, not 503.
# An exhausted quota (no credit left) is a 400, not a 429, on Anthropic's API.
_STATUS_OVERRIDE: dict[ErrorKind, int] = {ErrorKind.UNAVAILABLE: 529, ErrorKind.QUOTA_EXHAUSTED: 400}


def error_type(error: SimulatorError) -> str:
    """Anthropic's ``error.type`` string for ``error``."""
    return _TYPE[error.kind]


def error_status(error: SimulatorError) -> int:
    """The HTTP status Anthropic uses for ``error`` (an explicitly chosen status wins)."""
    if error.explicit_status:
        return error.status
    return _STATUS_OVERRIDE.get(error.kind, error.status)


def limit_message(hit: LimitHit) -> str:
    """Anthropic's rate-limit message, naming the organization's limit."""
    org = hit.key if hit.key.startswith("org-") else "simulated organization"
    resource = hit.resource.replace("_", " ")
    return (
        f"This request would exceed the rate limit for your organization ({org}) of {hit.limit} {resource} "
        f"per {hit.window}. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the "
        "response headers for current usage. Please reduce the prompt length or the maximum tokens requested, "
        "or try again later."
    )


# Anthropic's own wording for a missing or unknown key.
_AUTH_MESSAGES = {"missing_api_key": "x-api-key header is required", "invalid_api_key": "invalid x-api-key"}


def error_message(error: SimulatorError) -> str:
    """The ``error.message`` text (Anthropic's own wording for rate limits and bad keys)."""
    if error.limit is not None:
        return limit_message(error.limit)
    if error.kind is ErrorKind.AUTHENTICATION and error.code in _AUTH_MESSAGES and not error.explicit_message:
        return _AUTH_MESSAGES[error.code]
    return error.message


def render_error(error: SimulatorError, request_id: str) -> JsonResponse:
    """The complete Anthropic-shaped error response, with ``request-id`` as the API sends it."""
    body = orjson.dumps(
        {
            "type": "error",
            "error": {"type": error_type(error), "message": error_message(error)},
            "request_id": request_id,
        }
    )
    status = error_status(error)
    rid = request_id.encode()
    headers = [JSON_CONTENT_TYPE, (b"request-id", rid), (b"x-request-id", rid)]
    retryable = error.should_retry
    if retryable is None:
        retryable = status in (408, 409, 429) or status >= 500
    headers.append((b"x-should-retry", b"true" if retryable else b"false"))
    if error.retry_after_s is not None:
        headers.extend(retry_after_headers(error.retry_after_s))
    return JsonResponse(status, body, headers)


def stream_error_frame(error: SimulatorError) -> bytes:
    """A mid-stream error: the named ``error`` event the SDK raises from."""
    payload = orjson.dumps({"type": "error", "error": {"type": error_type(error), "message": error_message(error)}})
    return sse_frame(payload, b"error")
