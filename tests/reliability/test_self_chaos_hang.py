"""Chaos for the simulator itself: a telemetry destination that accepts and never answers.

A collector or webhook that hangs (the TCP connection is accepted, the request read by the
kernel, no byte ever comes back) is worse than one that is down: every delivery waits for
its timeout. What must hold (docs/operations.md, "What the simulator survives"): requests
keep their latency (delivery runs off the request path), the queue stays bounded, what is
not delivered is dropped and counted, and shutdown still ends within the sink's
``timeout_s`` (the tracer's ``export_timeout_s``), not after one timeout per queued batch.
The hanging server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.server.app import SimulatorApp
from llm_simulator.telemetry.sinks import WebhookSink
from tests.server.asgi_driver import call

CHAT_PATH = "/v1/chat/completions"
CHAT = orjson.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5})
# How long one delivery waits for the hanging destination; the bounds below derive from it.
TIMEOUT_S = 2.0
# An in-process request takes milliseconds; one that waited on the destination takes at least
# TIMEOUT_S, so that is the bound. Anything lower only measures how long a loaded 2-core box
# can leave a niced test process unscheduled (a 1.0 s bound failed that way).
REQUEST_BOUND_S = TIMEOUT_S
# Shutdown may use its whole timeout; this much more covers a loaded 2-core machine.
CLOSE_MARGIN_S = 2.0


class Hanging:
    """A TCP server on 127.0.0.1 that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="hanging server", daemon=True)

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)  # kept open, never read from, never written to

    def __enter__(self) -> Hanging:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._held:
            conn.close()
        self.sock.close()


@pytest.fixture
def hanging() -> Iterator[Hanging]:
    """A hanging server for the test."""
    with Hanging() as server:
        yield server


async def serve_requests(app: SimulatorApp, count: int) -> float:
    """Send ``count`` chat requests, each answered correctly; the slowest one's seconds."""
    slowest = 0.0
    for _ in range(count):
        started = time.monotonic()
        reply = await call(app, "POST", CHAT_PATH, CHAT)
        slowest = max(slowest, time.monotonic() - started)
        assert reply.status == 200, reply.body
        assert orjson.loads(reply.body)["usage"]["completion_tokens"] == 5
    return slowest


async def closing_time(app: SimulatorApp) -> float:
    """Seconds ``app.telemetry.close()`` (the shutdown flush) takes."""
    started = time.monotonic()
    await app.telemetry.close()
    return time.monotonic() - started


def app_with(sink: dict[str, Any] | None = None, **flags: Any) -> SimulatorApp:
    """An in-process app without latency, with this event sink."""
    sinks = [sink] if sink else []
    return SimulatorApp(load_config(flags={"latency.enabled": False, "telemetry.events.sinks": sinks, **flags}))


async def test_a_hanging_webhook_keeps_requests_fast_bounds_its_queue_and_shutdown(hanging: Hanging) -> None:
    """The webhook never answers: requests stay fast, the queue never holds more than
    ``queue_size``, every event is counted as sent or dropped, shutdown takes at most
    ``timeout_s`` (plus a margin), however many retries and batches were left.
    """
    sink_spec = {
        "type": "webhook",
        "url": hanging.url + "/events",
        "batch_size": 5,
        "queue_size": 20,
        "flush_interval_s": 0.01,
        "max_retries": 5,
        "backoff_s": 0.05,
        "timeout_s": TIMEOUT_S,
    }
    app = app_with(sink_spec)
    [sink] = app.telemetry.sinks
    assert isinstance(sink, WebhookSink)
    slowest = 0.0
    for _ in range(10):
        slowest = max(slowest, await serve_requests(app, 4))
        assert sink.queued <= 20
        await asyncio.sleep(0.02)  # in-process requests never wait: let the delivery task run
    assert slowest < REQUEST_BOUND_S
    assert hanging.accepted >= 1  # it was reached, and hung
    assert sink.sent == 0
    assert sink.dropped >= 80 - 20 - 5  # what neither the queue nor the batch in flight holds
    assert await closing_time(app) < TIMEOUT_S + CLOSE_MARGIN_S
    assert (sink.sent, sink.dropped) == (0, 80)  # every event accounted for


async def test_a_hanging_otlp_collector_for_events_keeps_requests_fast_counts_and_shuts_down(
    hanging: Hanging,
) -> None:
    """The OTLP collector never answers: requests stay fast, the SDK's queue stays within
    ``queue_size`` (new events are dropped and counted), events that were handed over but
    never acknowledged count as dropped, not sent, and shutdown takes at most ``timeout_s``
    plus a margin, not one export timeout per queued batch.
    """
    pytest.importorskip("opentelemetry.sdk")
    sink_spec = {
        "type": "otlp",
        "endpoint": hanging.url,
        "batch_size": 10,
        "queue_size": 40,
        "flush_interval_s": 0.01,
        "timeout_s": TIMEOUT_S,
    }
    app = app_with(sink_spec)
    [sink] = app.telemetry.sinks
    assert await serve_requests(app, 50) < REQUEST_BOUND_S
    assert sink.dropped >= 100 - 40 - 10
    assert await closing_time(app) < TIMEOUT_S + CLOSE_MARGIN_S
    assert hanging.accepted >= 1
    assert (sink.sent, sink.dropped) == (0, 100)


async def test_a_hanging_otlp_collector_for_traces_keeps_requests_fast_and_shuts_down(hanging: Hanging) -> None:
    """Spans to a collector that never answers: requests stay fast (a span is queued when the
    request ends), and shutdown takes at most ``export_timeout_s`` plus a margin, whatever
    is left in the SDK's queue (bounded: 2048 spans by default).
    """
    pytest.importorskip("opentelemetry.sdk")
    tracing: dict[str, Any] = {
        "telemetry.tracing.otlp_endpoint": hanging.url,
        "telemetry.tracing.export_timeout_s": TIMEOUT_S,
    }
    app = app_with(None, **tracing)
    assert await serve_requests(app, 1200) < REQUEST_BOUND_S  # more than two batches of 512 spans
    assert await closing_time(app) < TIMEOUT_S + CLOSE_MARGIN_S
    assert hanging.accepted >= 1
