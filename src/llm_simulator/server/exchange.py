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
from dataclasses import dataclass, field
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


@dataclass(slots=True, kw_only=True, eq=False)
class ServerExchange(Exchange):
    """The server's state of one request, from its scope to its bookkeeping."""

    scope: Scope
    started: float  # monotonic seconds
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    query: dict[str, str]
    request_id: str
    # The client's Origin, for CORS response headers; None for the admin API (browsers must
    # not reach it) and for requests without one.
    origin: str | None
    # Set by routing: the matched route and its path parameters, or (when none matched) the
    # methods the path allows; the provider whose shapes the answer takes; the endpoint name.
    route: Route | None = None
    params: Mapping[str, str] = field(default_factory=lambda: _NO_PARAMS)
    allowed: list[str] | None = None
    provider: Provider = field(init=False)
    endpoint: str = "unknown"
    # The outcome, as the bookkeeping records it.
    status: int = 500
    broken: bool = False
    body: bytes = b""
    # The log filter's current-record token, reset when the exchange ends.
    log_token: object | None = None

    @classmethod
    def from_scope(cls, scope: Scope) -> ServerExchange:
        """The exchange of an ASGI ``http`` scope: headers, query and request id parsed once."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id")
        raw_query: bytes = scope.get("query_string", b"")
        return cls(
            scope=scope,
            started=time.monotonic(),
            method=scope["method"],
            path=scope["path"],
            headers=headers,
            query=dict(parse_qsl(raw_query.decode("latin-1"))) if raw_query else {},
            # A client's id is kept only when it is safe to echo and log.
            request_id=given if given is not None and _REQUEST_ID.fullmatch(given) else new_request_id(),
            origin=headers.get("origin"),
        )

    @property
    def telemetry(self) -> RequestRecord:
        """The request's telemetry record (the bookkeeping opens it before any check runs)."""
        record = self.record
        assert record is not None, "the exchange's record is opened by Bookkeeping.begin"
        return record
