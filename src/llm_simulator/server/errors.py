"""The server's own errors (not a provider's): timeouts, shutdown, bad routes, internal bugs.

Neutral ``SimulatorError``s, rendered by the provider that owns the route like any other.
"""

from __future__ import annotations

from llm_simulator.core.errors import ErrorKind, SimulatorError


def no_route(method: str, path: str, allowed: list[str] | None) -> SimulatorError:
    """A 404 for an unknown path, or a 405 naming the methods the path allows."""
    if allowed:
        return SimulatorError(
            ErrorKind.METHOD_NOT_ALLOWED,
            f"Method {method} is not allowed for {path}; use {', '.join(allowed)}.",
            code="method_not_allowed",
        )
    return SimulatorError(ErrorKind.NOT_FOUND, f"Invalid URL ({method} {path})", code="unknown_url")


def too_large(limit: int) -> SimulatorError:
    """A 413 for a body over ``limit`` bytes."""
    return SimulatorError(
        ErrorKind.PAYLOAD_TOO_LARGE,
        f"The request body is larger than the limit of {limit} bytes.",
        code="request_too_large",
    )


def shutting_down() -> SimulatorError:
    """A 503 (529 on Anthropic) for a request or stream cut by the drain deadline."""
    return SimulatorError(
        ErrorKind.UNAVAILABLE, "The server is shutting down; please retry.", code="server_shutting_down"
    )


def body_timeout(seconds: float) -> SimulatorError:
    """A 408 for a request body that did not arrive in time."""
    return SimulatorError(
        ErrorKind.INVALID_REQUEST,
        f"The request body did not arrive within {seconds:g} s.",
        code="request_timeout",
        status=408,
    )


def request_timeout(seconds: float) -> SimulatorError:
    """The provider's 504 for a request that took longer than the limit."""
    return SimulatorError(
        ErrorKind.TIMEOUT,
        f"The request took longer than the simulator's limit of {seconds:g} s.",
        code="request_timeout",
    )


def incomplete_body() -> SimulatorError:
    """A 400 for a body the client stopped sending halfway."""
    return SimulatorError(
        ErrorKind.INVALID_REQUEST,
        "The request body ended before it was complete (the client stopped sending).",
        code="incomplete_body",
    )


def internal_error() -> SimulatorError:
    """A 500 for a bug in the simulator (logged with its traceback)."""
    return SimulatorError(
        ErrorKind.SERVER_ERROR, "The simulator hit an internal error; see its logs.", code="internal_error"
    )
