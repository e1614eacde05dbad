"""The HTTP vocabulary every layer above ``core`` shares: requests, responses and routes.

The types describe HTTP exchanges as plain data (no sockets, no ASGI), so providers stay
testable without a server, the server stays ignorant of any vendor's format, and the
security gate and telemetry can speak of headers without importing the providers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.record import RequestRecord

Headers = list[tuple[bytes, bytes]]

JSON_CONTENT_TYPE = (b"content-type", b"application/json")
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


@dataclass(slots=True)
class HttpRequest:
    """An incoming request as the server read it."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    request_id: str
    path_params: dict[str, str] = field(default_factory=dict)
    # The endpoint name (the route's, or what its ``endpoint_of`` made of the path), for
    # stats and chaos filters.
    endpoint: str = ""
    # Set at admission: headers every response to this request carries (rate-limit state),
    # and a callback told how the request ended (HTTP status, whether its stream broke).
    extra_headers: Headers | None = None
    on_done: Callable[[int, bool], None] | None = None
    # What telemetry learns about this request (model, tokens, token times, chaos).
    record: RequestRecord | None = None


@dataclass(slots=True)
class JsonResponse:
    """A complete response with a JSON body."""

    status: int
    body: bytes
    headers: Headers = field(default_factory=list)


@dataclass(slots=True)
class StreamResponse:
    """A 200 event stream: headers, then frames (already-encoded bytes) as they are due.

    ``on_error`` turns an exception raised mid-stream into the provider's in-stream error
    frame (sent only if the stream had started); ``malformed`` is the broken frame a chaos
    ``malformed`` fault sends, in the provider's own stream shape (a data line whose JSON
    is cut short). Every provider names its own: there is no default.
    """

    frames: AsyncIterator[bytes]
    headers: Headers = field(default_factory=lambda: list(SSE_HEADERS))
    on_error: Callable[[SimulatorError], bytes] | None = None
    malformed: bytes = field(kw_only=True)


Response = JsonResponse | StreamResponse
Handler = Callable[[HttpRequest], Awaitable[Response]]
# Decides, from headers and query, whether a request on a shared path is this route's.
Selector = Callable[[Mapping[str, str], Mapping[str, str]], bool]


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint: ``path`` may contain ``{name}`` segments (one path segment each).

    Several providers may serve the same method and path (``GET /v1/models`` is OpenAI's,
    Anthropic's and Gemini's); ``when`` then says which requests belong to this route, and
    a route without ``when`` takes the rest.
    """

    method: str
    path: str
    handler: Handler
    endpoint: str
    when: Selector | None = None
    # The endpoint name from the path parameters, for a route serving several kinds of work
    # (Gemini's ``{model}:{action}``); ``endpoint`` otherwise.
    endpoint_of: Callable[[Mapping[str, str]], str] | None = None
