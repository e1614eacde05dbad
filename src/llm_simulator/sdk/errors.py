"""Typed errors of the SDK, parsed from each provider's error body.

Every failure the SDK raises is a ``SimulatorAPIError``: an HTTP error answer becomes the
subclass its status names (``RateLimitError`` for a 429, ``OverloadedError`` for a 503 or
529, ...), an error sent inside an event stream becomes the subclass its error type implies,
and a failure to talk to the server at all is an ``APIConnectionError`` (``APITimeoutError``
when the client-side timeout ran out).

The three providers' bodies are understood:

- OpenAI: ``{"error": {"message", "type", "param", "code"}}``;
- Anthropic: ``{"type": "error", "error": {"type", "message"}}``;
- Gemini: ``{"error": {"code", "message", "status", "details"}}`` (a ``RetryInfo`` detail's
  ``retryDelay`` is the retry hint; an ``API_KEY_INVALID`` reason is an authentication error).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import orjson

from llm_simulator.infra.retry import retry_after_from_headers

T = TypeVar("T")

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "SimulatorAPIError",
    "error_from_response",
    "error_from_stream",
    "is_retryable",
]


class SimulatorAPIError(Exception):
    """An error answer from the simulator (or from any of the APIs it stands in for).

    ``status`` is the HTTP status (for an error sent inside a stream: the status its error
    type implies; ``None`` when no answer arrived), ``error_type`` the provider's own error
    type (OpenAI/Anthropic ``error.type``, Gemini ``error.status``), ``code`` OpenAI's
    ``error.code`` or Gemini's ``ErrorInfo`` reason, ``body`` the parsed body (or its text),
    ``headers`` the response headers (lower-case names). ``retry_after_s`` is the server's
    retry hint (``retry-after-ms``, ``retry-after`` or Gemini's ``RetryInfo``) and
    ``should_retry`` the ``x-should-retry`` header, when sent.
    """

    def __init__(
        self,
        status: int | None,
        error_type: str | None,
        message: str,
        body: object = None,
        headers: Mapping[str, str] | None = None,
        *,
        code: str | None = None,
        retry_after_s: float | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.body = body
        self.headers: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
        self.code = code
        self.retry_after_s = retry_after_s
        self.should_retry = should_retry

    def __str__(self) -> str:
        """``status error_type: message``, leaving out what is unknown."""
        prefix = " ".join(str(p) for p in (self.status, self.error_type) if p is not None)
        return f"{prefix}: {self.message}" if prefix else self.message


class BadRequestError(SimulatorAPIError):
    """400 (or 422): the request is malformed or asks for something impossible."""


class AuthenticationError(SimulatorAPIError):
    """401 (or Gemini's 400 ``API_KEY_INVALID``): the API key is missing or wrong."""


class PermissionDeniedError(SimulatorAPIError):
    """403: the key may not do this."""


class NotFoundError(SimulatorAPIError):
    """404: no such model, route, session, ..."""


class RateLimitError(SimulatorAPIError):
    """429: rate-limited or out of quota; ``retry_after_s`` says when to come back, if known."""


class ServerError(SimulatorAPIError):
    """5xx: the server (or the simulated provider) failed."""


class OverloadedError(ServerError):
    """503 or 529: the provider is overloaded or unavailable; worth retrying later."""


class InvalidResponseError(SimulatorAPIError):
    """A success status with a body no provider sends (a proxy's HTML page, a cut JSON body)."""

    def __init__(self, status: int | None, message: str, body: object = None) -> None:
        super().__init__(status, "invalid_response", message, body)


def decoded(status: int, read: Callable[[], T]) -> T:
    """``read()`` (decoding or parsing a success body), with any shape failure as ``InvalidResponseError``."""
    try:
        return read()
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        raise InvalidResponseError(status, f"unexpected response body ({type(exc).__name__}: {exc})") from None


class APIConnectionError(SimulatorAPIError):
    """No answer: the connection failed or broke (also mid-stream)."""

    def __init__(self, message: str = "Connection error.") -> None:
        super().__init__(None, None, message)


class APITimeoutError(APIConnectionError):
    """No answer within the client's timeout."""

    def __init__(self, message: str = "Request timed out.") -> None:
        super().__init__(message)


# -- parsing ---------------------------------------------------------------------------------

# The status each Anthropic error type is sent with (used for errors inside a stream).
_ANTHROPIC_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
# The status an OpenAI error ``code`` implies, then its ``type`` (errors inside a stream).
_OPENAI_CODE_STATUS = {
    "invalid_api_key": 401,
    "permission_denied": 403,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "bad_gateway": 502,
    "overloaded": 503,
    "service_unavailable": 503,
    "timeout": 504,
}
_OPENAI_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "requests": 429,
    "tokens": 429,
    "insufficient_quota": 429,
    "server_error": 500,
    "timeout": 504,
}
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def _class_for(status: int | None, code: str | None) -> type[SimulatorAPIError]:
    """The error class of an HTTP status (and Gemini's invalid-key reason)."""
    if code == "API_KEY_INVALID":
        return AuthenticationError
    if status in (400, 422):
        return BadRequestError
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitError
    if status in (503, 529):
        return OverloadedError
    if status is not None and status >= 500:
        return ServerError
    return SimulatorAPIError


def _proto_seconds(value: object) -> float | None:
    """A protobuf JSON duration (``"1.5s"``) in seconds, or None."""
    if not isinstance(value, str) or not value.endswith("s"):
        return None
    try:
        seconds = float(value[:-1])
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class _Parsed:
    """What an error body says, whichever provider sent it."""

    __slots__ = ("code", "error_type", "message", "retry_after_s", "status")

    def __init__(self) -> None:
        self.error_type: str | None = None
        self.message: str | None = None
        self.code: str | None = None
        self.status: int | None = None  # only Gemini bodies carry one
        self.retry_after_s: float | None = None


def _parse(body: object) -> _Parsed:
    """Read an error body of any of the three shapes (anything else gives an empty result)."""
    out = _Parsed()
    if not isinstance(body, dict):
        return out
    inner = body.get("error")
    if not isinstance(inner, dict):
        return out
    message = inner.get("message")
    out.message = message if isinstance(message, str) else None
    if body.get("type") == "error":  # Anthropic
        kind = inner.get("type")
        out.error_type = kind if isinstance(kind, str) else None
        return out
    status_name = inner.get("status")
    number = inner.get("code")
    if isinstance(status_name, str) and isinstance(number, int) and not isinstance(number, bool):  # Gemini
        out.error_type = status_name
        out.status = number
        details = inner.get("details")
        for detail in details if isinstance(details, list) else []:
            if not isinstance(detail, dict):
                continue
            if detail.get("@type") == _RETRY_INFO:
                out.retry_after_s = _proto_seconds(detail.get("retryDelay"))
            elif detail.get("@type") == _ERROR_INFO and isinstance(detail.get("reason"), str):
                out.code = detail["reason"]
        return out
    kind = inner.get("type")  # OpenAI
    out.error_type = kind if isinstance(kind, str) else None
    code = inner.get("code")
    out.code = code if isinstance(code, str) else None
    return out


def _load(content: bytes) -> object:
    """The body as JSON, or as text when it is not JSON."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content.decode("utf-8", "replace")


def error_from_response(status: int, content: bytes, headers: Mapping[str, str]) -> SimulatorAPIError:
    """The typed error for an HTTP error answer (``status`` ≥ 400) and its raw body."""
    body = _load(content)
    parsed = _parse(body)
    lowered = {k.lower(): v for k, v in headers.items()}
    hint = retry_after_from_headers(lowered)
    if hint is None:
        hint = parsed.retry_after_s
    should = lowered.get("x-should-retry")
    message = parsed.message or (body.strip() if isinstance(body, str) and body.strip() else f"HTTP {status}")
    cls = _class_for(status, parsed.code)
    return cls(
        status,
        parsed.error_type,
        message,
        body,
        lowered,
        code=parsed.code,
        retry_after_s=hint,
        should_retry=None if should is None else should.strip().lower() == "true",
    )


def _stream_status(parsed: _Parsed, anthropic: bool) -> int | None:
    """The HTTP status an in-stream error would have been sent with."""
    if parsed.status is not None:
        return parsed.status
    kind = parsed.error_type or ""
    if anthropic:
        return _ANTHROPIC_STATUS.get(kind)
    return _OPENAI_CODE_STATUS.get(parsed.code or "") or _OPENAI_TYPE_STATUS.get(kind)


def error_from_stream(payload: Mapping[str, Any]) -> SimulatorAPIError:
    """The typed error for an error event inside a stream (the response itself was a 200).

    ``status`` is the one the error's type implies (Anthropic ``overloaded_error`` → 529,
    OpenAI ``server_error`` → 500, Gemini's own ``code``).
    """
    body = dict(payload)
    parsed = _parse(body)
    status = _stream_status(parsed, body.get("type") == "error")
    cls = _class_for(status, parsed.code)
    return cls(
        status,
        parsed.error_type,
        parsed.message or "error in the event stream",
        body,
        {},
        code=parsed.code,
        retry_after_s=parsed.retry_after_s,
    )


def is_retryable(exc: BaseException) -> bool:
    """Whether retrying ``exc`` can help, as the official SDKs decide.

    Connection failures and timeouts are; an answer is when the server's ``x-should-retry``
    says so, or failing that when its status is 408, 409, 429 or 5xx. Errors raised inside
    an event stream (after the first byte) never reach this: streams are not retried.
    """
    if isinstance(exc, APIConnectionError):
        return True
    if not isinstance(exc, SimulatorAPIError):
        return False
    if exc.should_retry is not None:
        return exc.should_retry
    status = exc.status or 0
    return status in (408, 409, 429) or status >= 500
