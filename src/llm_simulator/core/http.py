"""The HTTP vocabulary every layer above ``core`` shares: requests, responses and routes.

The types describe HTTP exchanges as plain data (no sockets, no ASGI), so providers stay
testable without a server, the server stays ignorant of any vendor's format, and the
security gate and telemetry can speak of headers without importing the providers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.frozen import fast_init
from llm_simulator.core.plain import PlainTokens
from llm_simulator.core.record import RequestRecord

Headers = list[tuple[bytes, bytes]]

JSON_CONTENT_TYPE = (b"content-type", b"application/json")
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


@dataclass(slots=True)
class Exchange:
    """What answering one request changes as it goes: owned by the server, one per request.

    The request is frozen (what the client sent, and where it was routed); what the
    handler's side learns while answering it is reported here, for the server to act on
    however the exchange ends (a response, an error, a timeout, a cut):

    - ``record``: what telemetry learns about the request (model, tokens, token times,
      chaos); None for work that outlives the exchange (see ``HttpRequest.detached``);
    - ``extra_headers``: headers every response to the request carries, errors included
      (admission's rate-limit state, the ``allow`` of a 405);
    - ``on_done``: told how the exchange ended (HTTP status, whether its stream broke);
      admission's settlement of a token estimate and its circuit-breaker feedback.
    """

    record: RequestRecord | None = None
    extra_headers: Headers | None = None
    on_done: Callable[[int, bool], None] | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An incoming request as the server read and routed it (immutable)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    request_id: str
    path_params: Mapping[str, str] = field(default_factory=dict)
    # The endpoint name (the route's, or what its ``endpoint_of`` made of the path), for
    # stats and chaos filters.
    endpoint: str = ""
    # The server's state of answering this request (see ``Exchange``).
    exchange: Exchange = field(default_factory=Exchange)
    # The query string as sent (``query`` keeps one value per name; a proxy forwards all).
    raw_query: bytes = b""

    def detached(self) -> HttpRequest:
        """A copy of the request for work that outlives its exchange (a background response).

        The copy reports to a fresh exchange nobody reads: the original one's record,
        headers and callback belong to the response already sent.
        """
        return dataclasses.replace(self, exchange=Exchange())


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
    is cut short). Every provider names its own: there is no default. ``ahead`` (optional,
    see ``Simulator.frames_ahead``) says when the next frames are ready without a wait;
    ``plain`` (optional, see ``core.plain``) the same frames without the generator.
    """

    frames: AsyncIterator[bytes]
    headers: Headers = field(default_factory=lambda: list(SSE_HEADERS))
    on_error: Callable[[SimulatorError], bytes] | None = None
    malformed: bytes = field(kw_only=True)
    # True when the next frames are ready without a wait (an engine released tokens the stream
    # has not sent yet, or its sequence ended): the server then writes the frames ready now in
    # one write (server/coalesce.py).
    ahead: Callable[[], bool] | None = field(default=None, kw_only=True)
    # A plain stream's synchronous per-token path (``core.plain``), which the server takes
    # instead of iterating ``frames`` while ``frames`` is still the generator it stands for.
    plain: PlainTokens | None = field(default=None, kw_only=True)


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
