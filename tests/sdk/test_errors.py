"""Error bodies of each provider become typed SDK errors, with their retry hints."""

from __future__ import annotations

import orjson
import pytest

from llm_simulator.sdk import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SimulatorAPIError,
    is_retryable,
)
from llm_simulator.sdk.errors import error_from_response, error_from_stream

OPENAI_429 = {
    "error": {
        "message": "Rate limit reached for gpt-4o.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}
ANTHROPIC_529 = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
GEMINI_429 = {
    "error": {
        "code": 429,
        "message": "Resource has been exhausted.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}],
    }
}
GEMINI_BAD_KEY = {
    "error": {
        "code": 400,
        "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
    }
}


def test_openai_shape_with_retry_after_ms() -> None:
    err = error_from_response(
        429, orjson.dumps(OPENAI_429), {"Retry-After-Ms": "1500", "retry-after": "2", "x-should-retry": "true"}
    )
    assert isinstance(err, RateLimitError)
    assert (err.status, err.error_type, err.code) == (429, "requests", "rate_limit_exceeded")
    assert err.message == "Rate limit reached for gpt-4o."
    assert err.retry_after_s == 1.5  # the milliseconds header wins
    assert err.should_retry is True
    assert err.body == OPENAI_429
    assert err.headers["retry-after"] == "2"
    assert str(err) == "429 requests: Rate limit reached for gpt-4o."


def test_anthropic_shape() -> None:
    err = error_from_response(529, orjson.dumps(ANTHROPIC_529), {"retry-after": "3"})
    assert isinstance(err, OverloadedError)
    assert isinstance(err, ServerError)
    assert (err.status, err.error_type, err.code, err.message) == (529, "overloaded_error", None, "Overloaded")
    assert err.retry_after_s == 3.0


def test_gemini_shape_with_retry_info() -> None:
    err = error_from_response(429, orjson.dumps(GEMINI_429), {})
    assert isinstance(err, RateLimitError)
    assert (err.error_type, err.message) == ("RESOURCE_EXHAUSTED", "Resource has been exhausted.")
    assert err.retry_after_s == 2.5


def test_gemini_invalid_key_is_an_authentication_error() -> None:
    err = error_from_response(400, orjson.dumps(GEMINI_BAD_KEY), {})
    assert isinstance(err, AuthenticationError)
    assert (err.status, err.code) == (400, "API_KEY_INVALID")


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (422, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, OverloadedError),
        (504, ServerError),
        (529, OverloadedError),
        (409, SimulatorAPIError),
    ],
)
def test_status_picks_the_class(status: int, cls: type[SimulatorAPIError]) -> None:
    err = error_from_response(status, b'{"error": {"message": "m", "type": "t"}}', {})
    assert type(err) is cls
    assert err.status == status


def test_a_body_that_is_not_json_is_kept_as_text() -> None:
    err = error_from_response(502, b"<html>Bad gateway</html>", {})
    assert isinstance(err, ServerError)
    assert err.body == err.message == "<html>Bad gateway</html>"
    assert err.error_type is None
    assert str(error_from_response(500, b"", {})) == "500: HTTP 500"


def test_stream_errors_get_the_status_their_type_implies() -> None:
    anthropic = error_from_stream(ANTHROPIC_529)
    assert isinstance(anthropic, OverloadedError) and anthropic.status == 529
    openai = error_from_stream({"error": {"message": "boom", "type": "server_error", "code": "server_error"}})
    assert isinstance(openai, ServerError) and openai.status == 500
    openai_busy = error_from_stream({"error": {"message": "busy", "type": "server_error", "code": "overloaded"}})
    assert isinstance(openai_busy, OverloadedError) and openai_busy.status == 503
    gemini = error_from_stream(GEMINI_429)
    assert isinstance(gemini, RateLimitError) and gemini.retry_after_s == 2.5
    unknown = error_from_stream({"error": {"message": "?", "type": "mystery"}})
    assert type(unknown) is SimulatorAPIError and unknown.status is None


def test_what_is_retryable() -> None:
    assert is_retryable(APIConnectionError())
    assert is_retryable(APITimeoutError())
    assert is_retryable(error_from_response(429, b"", {}))
    assert is_retryable(error_from_response(503, b"", {}))
    assert is_retryable(error_from_response(408, b"", {}))
    assert not is_retryable(error_from_response(400, b"", {}))
    assert not is_retryable(error_from_response(404, b"", {}))
    # The server's word wins both ways.
    assert not is_retryable(error_from_response(429, b"", {"x-should-retry": "false"}))
    assert is_retryable(error_from_response(400, b"", {"x-should-retry": "true"}))
    assert not is_retryable(ValueError("not ours"))
    assert APITimeoutError().status is None
