"""The telemetry hub: where every finished request goes (stats, metrics, events, traces).

The server calls ``begin`` when a request is routed and ``finish`` when it has ended; in
between the request's ``RequestRecord`` is filled in by the engine and by admission. The
hub does the per-request work once, at the end: a fold into ``Stats`` (which ``/metrics``
renders at scrape time), an event to each sink's bounded queue, and a span to the exporter's
batch. Background tasks sample the event-loop lag and, with several workers, share this
worker's aggregates with the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.core.identity import presented_key
from llm_simulator.core.record import RequestRecord
from llm_simulator.core.redact import fingerprint
from llm_simulator.telemetry import events as ev
from llm_simulator.telemetry.multiprocess import SharedStats
from llm_simulator.telemetry.prices import PriceTable
from llm_simulator.telemetry.requestlog import RequestLog
from llm_simulator.telemetry.stats import Stats
from llm_simulator.telemetry.traceparent import assign_trace

log = logging.getLogger("llm_simulator.telemetry")
# The simulator's own endpoints: health probes, scrapes, the dashboard and the admin API.
# They are counted in the metrics like any request, but send no lifecycle events and no
# spans: a scrape every 15 s or a dashboard polling every second would drown the API traffic.
SYSTEM_ENDPOINTS = frozenset({"health", "ready", "version", "openapi", "metrics", "dashboard", "admin"})


# Credentials longer than this are fingerprinted at once rather than kept as a cache key
# (a header may be 64 kB; thousands of distinct ones must not pin memory).
MAX_CACHED_CREDENTIAL = 256


class Tracer(Protocol):
    """Exports one span per finished request (``telemetry.tracing``; the ``otel`` extra)."""

    def export(self, rec: RequestRecord, duration_s: float, output_tokens: int, cost: float) -> None:
        """Queue the request's span (never blocks)."""
        ...

    async def close(self) -> None:
        """Flush queued spans and stop."""
        ...


def _no_queue() -> tuple[int, int]:
    return 0, 0


def _fingerprint_salt(shared_dir: str | None) -> bytes:
    """The secret salt of key fingerprints: random per server run, shared by its workers.

    Workers must agree (their per-key rows are merged), so with a shared directory the first
    worker to start creates the salt file there and the others read it.
    """
    if shared_dir is None:
        return os.urandom(16)
    os.makedirs(shared_dir, exist_ok=True)
    path = os.path.join(shared_dir, "fingerprint.salt")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(100):  # the creator may not have written it yet
            with open(path, "rb") as file:
                salt = file.read()
            if len(salt) == 16:
                return salt
            time.sleep(0.01)
        raise RuntimeError(f"unreadable fingerprint salt in {shared_dir}") from None
    salt = os.urandom(16)
    with os.fdopen(fd, "wb") as file:
        file.write(salt)
    return salt


class Telemetry:
    """Fans a finished request out to stats, event sinks and the tracer."""

    def __init__(
        self,
        config: SimulatorConfig,
        stats: Stats,
        sinks: list[ev.EventSink] | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        metrics = config.telemetry.metrics
        self.config = config
        self.stats = stats
        self.prices = PriceTable(metrics.prices)
        self._price_of = self.prices.per_mtok  # bound once: finish() runs on every request
        self._salt = _fingerprint_salt(metrics.multiprocess_dir)
        self._shown_key = self.shown_key
        self.sinks = sinks if sinks is not None else []
        self.tracer = tracer
        # Trace ids are minted when something will read them: a tracer, sinks, or JSON logs.
        self.traces = tracer is not None or bool(self.sinks) or config.logging.json_logs
        # (running, waiting) model requests; the app points this at its simulator's counters.
        self.queue_counts: Callable[[], tuple[int, int]] = _no_queue
        self.request_log = RequestLog(config.telemetry.request_log)
        self.last_loop_lag_s = 0.0
        self.shared = SharedStats(metrics.multiprocess_dir) if metrics.multiprocess_dir else None
        # With several workers: the reset epoch this worker has acted on. A worker starting
        # after a reset counts in that reset's epoch from the start.
        self._reset_seen = 0.0
        if self.shared is not None:
            self._reset_seen = self.stats.epoch = self.shared.reset_epoch()
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background tasks (idempotent; needs a running loop)."""
        if self._started:
            return
        self._started = True
        metrics = self.config.telemetry.metrics
        # An empty context: started inside the first request, the tasks must not carry its
        # record (and so its request id) into their own log lines forever.
        loop = asyncio.get_running_loop()
        empty = contextvars.Context()
        self._tasks.append(loop.create_task(self._probe_loop_lag(metrics.loop_lag_interval_s), context=empty))
        if self.shared is not None:
            failing = False
            try:
                # At once, not at the first flush: a worker killed in its first second must
                # leave a file behind, or its death would go uncounted.
                self.shared.write(self.stats)
            except OSError as exc:
                failing = True  # said once here; the flush loop says when it works again
                log.warning("cannot share metrics with the other workers (retrying every flush): %s", exc)
            self._claim_lost()
            self._tasks.append(loop.create_task(self._share(metrics.flush_interval_s, failing), context=empty))
        for sink in self.sinks:
            sink.start()

    async def close(self) -> None:
        """Stop the background tasks and flush sinks and spans (bounded by their timeouts)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._started = False
        if self.shared is not None:
            self._copy_live()
            try:
                self.shared.write(self.stats, clean=True)
            except OSError as exc:  # a full disk must not stop the sinks' final flush
                log.warning("cannot share final metrics: %s", exc)
        # Concurrently: the worker's kill deadline leaves one flush timeout, not one per sink.
        closing = [sink.close() for sink in self.sinks]
        if self.tracer is not None:
            closing.append(self.tracer.close())
        await asyncio.gather(*closing, return_exceptions=True)

    async def _probe_loop_lag(self, interval_s: float) -> None:
        """Sleep ``interval_s`` again and again; how much later than asked we wake is the loop's lag."""
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + interval_s
            await asyncio.sleep(interval_s)
            lag = max(0.0, loop.time() - expected)
            self.last_loop_lag_s = lag
            self.stats.loop_lag.observe(lag)

    async def _share(self, interval_s: float, failing: bool = False) -> None:
        """Write this worker's aggregates for the other workers every ``interval_s``.

        A failing write (a full disk) is said once, not once a flush, and so is the first
        write that works again; the worker serves on either way, its own scrapes exact.
        """
        assert self.shared is not None
        while True:
            await asyncio.sleep(interval_s)
            try:
                self._claim_lost()
                self._follow_reset()
                self._copy_live()
                # Encoded here, on the loop that mutates the stats; only the file write is threaded.
                await asyncio.to_thread(self.shared.write_bytes, self.shared.encode(self.stats))
            except OSError as exc:  # a full disk must not stop the worker
                if not failing:
                    failing = True
                    log.warning("cannot share metrics with the other workers (retrying every flush): %s", exc)
            else:
                if failing:
                    failing = False
                    log.warning("sharing metrics with the other workers again")

    def _claim_lost(self) -> None:
        """Log each worker that died without shutting down (each death is claimed by one worker)."""
        assert self.shared is not None
        try:
            lost = self.shared.claim_lost()
        except OSError as exc:  # an unreadable directory must not stop the worker
            log.warning("cannot look for workers that died: %s", exc)
            return
        for pid in lost:
            log.error(
                "worker process %d ended without shutting down (killed or crashed): the requests it was"
                " serving are lost; the server starts a new worker in its place (worker %d noticed;"
                " llm_simulator_worker_restarts_total counts these)",
                pid,
                self.shared.pid,
            )

    # -- per request ----------------------------------------------------------------------------

    def begin(self, rec: RequestRecord, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
        """A request was routed: note its caller and trace, announce it to the sinks."""
        if not self._started:
            self.start()
        # The raw credential as sent; it is parsed and fingerprinted once per distinct value
        # (when stats first meet it), not on every request.
        credential = headers.get("authorization") or presented_key(headers, query)
        if credential:
            # A long one is fingerprinted now, marked with a leading NUL (no header holds one).
            rec.api_key = credential if len(credential) <= MAX_CACHED_CREDENTIAL else "\0" + self.shown_key(credential)
        if self.traces or "traceparent" in headers:
            assign_trace(rec, headers.get("traceparent"))
        if rec.endpoint in SYSTEM_ENDPOINTS:
            rec.quiet = True
        elif self.sinks:
            rec.listener = self._live
            self._emit(ev.RECEIVED, rec, rec.started, {})

    def shown_key(self, credential: str) -> str:
        """The fingerprint stats, exports and events show for a raw credential ('' if it holds no key)."""
        if credential.startswith("\0"):
            return credential[1:]  # fingerprinted already (a long credential)
        key = presented_key({"authorization": credential}, {}) if " " in credential else credential.strip()
        return fingerprint(key, self._salt) if key else ""

    def _follow_reset(self) -> None:
        """Reset this worker's counters if another worker was asked to reset everyone's."""
        assert self.shared is not None
        epoch = self.shared.reset_epoch()
        if epoch != self._reset_seen:
            self._reset_seen = epoch
            if self.stats.epoch < epoch:
                self.stats.reset()
                self.stats.epoch = epoch

    def _copy_live(self) -> None:
        """Copy the live gauges and the sinks' counters into the stats about to be shared or read."""
        stats = self.stats
        stats.running, stats.waiting = self.queue_counts()
        stats.sinks = {s.name: [s.sent, s.dropped] for s in self.sinks}

    def finish(self, rec: RequestRecord, duration_s: float) -> None:
        """The request has ended (``rec.status`` set): fold it into every destination."""
        if self.shared is not None and self.shared.reset_epoch() != self._reset_seen:
            # A reset asked of another worker applies before this worker counts anything new,
            # or what it serves until its next flush would be wiped with the old counts.
            self._follow_reset()
        output, cost, key = self.stats.record(rec, duration_s, self._price_of, self._shown_key)
        if rec.quiet:
            return
        if self.sinks:
            kind = ev.FAILED if rec.status >= 400 or rec.broken else ev.COMPLETED
            self._emit(kind, rec, rec.started + duration_s, ev.outcome_fields(rec, duration_s, output, cost, key))
        if self.tracer is not None and rec.trace_sampled:
            self.tracer.export(rec, duration_s, output, cost)

    def conclude(
        self,
        rec: RequestRecord,
        duration_s: float,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        """Report work served outside an HTTP exchange (a background response) once it has ended.

        It is ``finish``ed and kept in the request log, as the server does for a request.
        """
        self.finish(rec, duration_s)
        if self.request_log.keeps(rec):
            self.request_log.add(rec, query, headers, body, duration_s)

    def _live(self, event: str, rec: RequestRecord, fields: dict[str, Any]) -> None:
        """A record's listener: events that happen mid-request (first token, chaos, rate limit)."""
        if event == ev.FIRST_TOKEN and rec.ttft_s is not None:
            fields = {"ttft_ms": round(rec.ttft_s * 1000, 3)}
        self._emit(event, rec, time.monotonic(), fields)

    def state_changed(self, state: str, previous: str | None, reason: str) -> None:
        """Announce a change of this worker's runtime state (``server.state``) to the sinks."""
        built: dict[str, Any] | None = None
        for sink in self.sinks:
            if sink.wants(ev.SERVER_STATE):
                if built is None:
                    built = ev.state_event(state, previous, reason, os.getpid(), time.time())
                sink.emit(built)

    def _emit(self, event: str, rec: RequestRecord, monotonic: float, fields: dict[str, Any]) -> None:
        built: dict[str, Any] | None = None
        for sink in self.sinks:
            if sink.wants(event):
                if built is None:
                    built = ev.build_event(event, rec, monotonic, fields)
                sink.emit(built)

    # -- views ------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Reset the counters of this worker, and ask the other workers to reset theirs."""
        self.stats.reset()
        if self.shared is not None:
            self.shared.request_reset(self.stats.since)
            self._reset_seen = self.stats.epoch = self.shared.reset_epoch()
            self._copy_live()
            try:
                self.shared.write(self.stats)
            except OSError as exc:  # the reset stands; the next flush shares it
                log.warning("cannot share metrics after a reset: %s", exc)

    def merged_stats(self) -> Stats:
        """Every worker's aggregates (this worker's alone without several workers)."""
        self._copy_live()
        if self.shared is None:
            return self.stats
        self._follow_reset()
        return self.shared.merged(self.stats)
