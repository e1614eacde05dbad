"""Ollama's error body: ``{"error": "<message>"}`` with the server's HTTP statuses.

Ollama has no error types or codes: the status and the message are all a client sees (the
``ollama`` client raises ``ResponseError(message, status_code)``). Mid-stream, an error is
one more NDJSON line holding only ``error``, which the client raises from.
"""

from __future__ import annotations

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.http import JSON_CONTENT_TYPE, JsonResponse
from llm_simulator.providers.retry_hints import retry_after_headers

# Ollama answers an overloaded server (its request queue full) with a 503, never a 529.
_STATUS_OVERRIDE: dict[ErrorKind, int] = {ErrorKind.OVERLOADED: 503, ErrorKind.QUOTA_EXHAUSTED: 429}
# The server's own wording where it has a fixed one.
_BUSY = "server busy, please try again.  maximum pending requests exceeded"
_MESSAGES: dict[ErrorKind, str] = {
    ErrorKind.AUTHENTICATION: "unauthorized",
    ErrorKind.OVERLOADED: _BUSY,
}


def error_status(error: SimulatorError) -> int:
    """The HTTP status Ollama uses for ``error`` (an explicitly chosen status wins)."""
    if error.explicit_status:
        return error.status
    return _STATUS_OVERRIDE.get(error.kind, error.status)


def error_message(error: SimulatorError) -> str:
    """The ``error`` string: Ollama's fixed wording for a busy server or a refused key, else the message."""
    if error.limit is not None:
        hit = error.limit
        return f"rate limit exceeded: {hit.limit} {hit.resource.replace('_', ' ')} per {hit.window}"
    fixed = _MESSAGES.get(error.kind)
    if fixed is not None and not error.explicit_message:
        return fixed
    return error.message


def error_body(error: SimulatorError) -> bytes:
    """``{"error": "..."}``."""
    return orjson.dumps({"error": error_message(error)})


def render_error(error: SimulatorError, request_id: str) -> JsonResponse:
    """The complete Ollama-shaped error response (``Retry-After`` when the wait is known)."""
    headers = [JSON_CONTENT_TYPE, (b"x-request-id", request_id.encode())]
    if error.retry_after_s is not None:
        headers.extend(retry_after_headers(error.retry_after_s))
    return JsonResponse(error_status(error), error_body(error), headers)


def stream_error_line(error: SimulatorError) -> bytes:
    """A mid-stream error: one NDJSON line ``{"error": "..."}`` (the client raises ``ResponseError``)."""
    return error_body(error) + b"\n"
