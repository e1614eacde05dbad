"""One exchange as the server handles it: the request's data, where it went, how it ended.

``ServerExchange`` is the per-request state of the server, one object from the ASGI scope
to the bookkeeping: what was read off the scope (once), the route and the provider whose
error shape the request gets, and the outcome the bookkeeping records (status, whether a
stream broke). It is the ``core.http.Exchange`` the frozen ``HttpRequest`` points to, so
what admission reports there (rate-limit headers, the end-of-exchange callback) lands
where the server reads it, however the exchange ends.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl

from llm_simulator.core.http import Exchange, Route
from llm_simulator.core.record import RequestRecord
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.base import Provider
from llm_simulator.server.asgi import Scope

# A client's x-request-id is kept only if it is safe in a header and a log line.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# The path parameters of an exchange not (yet) routed: shared, never written (a Mapping).
_NO_PARAMS: Mapping[str, str] = {}


def new_request_id() -> str:
    """A random ``req_…`` id."""
    return "req_" + IDS.hex(12)


class ServerExchange(Exchange):
    """The server's state of one request, from its scope to its bookkeeping.

    A plain slotted class with one ``__init__`` from the ASGI scope, not a dataclass: it is
    built once per request, and the generated keyword ``__init__`` with its defaults cost
    twice as much.
    """

    __slots__ = (
        "allowed",
        "body",
        "broken",
        "endpoint",
        "headers",
        "log_token",
        "method",
        "origin",
        "params",
        "path",
        "provider",
        "query",
        "request_id",
        "route",
        "scope",
        "started",
        "status",
    )

    def __init__(self, scope: Scope) -> None:
        """The exchange of an ASGI ``http`` scope: headers, query and request id parsed once."""
        self.record = None
        self.extra_headers = None
        self.on_done = None
        self.scope = scope
        self.started = time.monotonic()
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        # Lower-cased names.
        self.headers = headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        raw_query: bytes = scope.get("query_string", b"")
        self.query: dict[str, str] = dict(parse_qsl(raw_query.decode("latin-1"))) if raw_query else {}
        given = headers.get("x-request-id")
        # A client's id is kept only when it is safe to echo and log.
        self.request_id = given if given is not None and _REQUEST_ID.fullmatch(given) else new_request_id()
        # The client's Origin, for CORS response headers; None for the admin API (browsers
        # must not reach it) and for requests without one.
        self.origin = headers.get("origin")
        # Set by routing: the matched route and its path parameters, or (when none matched)
        # the methods the path allows; the provider whose shapes the answer takes (set for
        # every routed or unrouted exchange); the endpoint name.
        self.route: Route | None = None
        self.params: Mapping[str, str] = _NO_PARAMS
        self.allowed: list[str] | None = None
        self.provider: Provider
        self.endpoint = "unknown"
        # The outcome, as the bookkeeping records it.
        self.status = 500
        self.broken = False
        self.body = b""
        # The log filter's current-record token, reset when the exchange ends.
        self.log_token: object | None = None

    @property
    def telemetry(self) -> RequestRecord:
        """The request's telemetry record (the bookkeeping opens it before any check runs)."""
        record = self.record
        assert record is not None, "the exchange's record is opened by Bookkeeping.begin"
        return record
