"""The bookkeeping of every routed request, in one place: its start and its end.

``begin`` counts the request in flight and opens its telemetry record; ``end`` (in the
server's ``finally``, however the exchange ended: an answer, an error, a timeout, a cut)
records the outcome in telemetry and the request log (and a test scope's journal), writes the access log line and
tells the exchange's ``on_done`` (admission's settlement and circuit-breaker feedback) how
it ended.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.core.record import CURRENT, RequestRecord
from llm_simulator.core.test_scope import read_test_id
from llm_simulator.infra.clock import Clock
from llm_simulator.server.connection import log_access
from llm_simulator.server.exchange import ServerExchange
from llm_simulator.telemetry.hub import SYSTEM_ENDPOINTS, Telemetry

if TYPE_CHECKING:
    from llm_simulator.engine.scopes import ScopeRegistry


class Bookkeeping:
    """Counters, telemetry, the request and access logs, and end-of-exchange callbacks."""

    def __init__(
        self, config: SimulatorConfig, telemetry: Telemetry, clock: Clock, scopes: ScopeRegistry | None = None
    ) -> None:
        self._telemetry = telemetry
        # Test scopes count their requests by status (engine/scopes/).
        self._scopes = scopes
        self._stats = telemetry.stats
        self._clock = clock
        self._access_log = config.logging.access_log
        # Whether log lines need the current request's ids (JSON lines and the access log).
        self._log_context = config.logging.json_logs or config.logging.access_log
        # Requests in flight, for the concurrency cap (statistics can be reset; this cannot).
        self.in_flight = 0

    def begin(self, exchange: ServerExchange) -> None:
        """Count the routed request in flight and open its telemetry record."""
        self._stats.active_requests += 1
        self.in_flight += 1
        # The wall start from the simulator's clock, like every other wall stamp (created fields).
        wall = self._clock.wall()
        record = RequestRecord(exchange.request_id, exchange.method, exchange.path, exchange.started, wall)
        record.provider = exchange.provider.name
        record.endpoint = exchange.endpoint
        record.test_id = read_test_id(exchange.headers, exchange.query)
        exchange.record = record
        self._telemetry.begin(record, exchange.headers, exchange.query)
        # The current-record registry serves only the log filter (request and trace ids on
        # every line): the engine and admission get the record on the request's exchange.
        if self._log_context:
            exchange.log_token = CURRENT.set(record)

    def end(self, exchange: ServerExchange) -> None:
        """Record how the exchange ended, everywhere it is counted, and tell its ``on_done``."""
        self._stats.active_requests -= 1
        self.in_flight -= 1
        elapsed = time.monotonic() - exchange.started
        status, broken = exchange.status, exchange.broken
        record = exchange.telemetry
        record.endpoint = exchange.endpoint
        record.status = status
        record.broken = broken
        if not record.error_type and (broken or status >= 400):
            record.error_type = "client_closed" if status == 499 else "stream_broken" if broken else "http_error"
        telemetry = self._telemetry
        telemetry.finish(record, elapsed)
        log = telemetry.request_log
        # RequestLog.keeps inlined (the hot path): with the log off an unscoped request costs
        # two attribute tests.
        if (log.enabled or (record.test_id is not None and log.scoped)) and not record.quiet:
            log.add(record, exchange.query, exchange.headers, exchange.body, elapsed)
        if self._access_log:
            log_access(
                exchange.request_id,
                exchange.method,
                exchange.path,
                status,
                elapsed,
                exchange.provider.name,
                exchange.endpoint,
            )
        if record.test_id is not None and self._scopes is not None and record.endpoint not in SYSTEM_ENDPOINTS:
            self._scopes.finished(record.test_id, status)
        if exchange.on_done is not None:
            exchange.on_done(status, broken)
        if exchange.log_token is not None:
            CURRENT.reset(exchange.log_token)
