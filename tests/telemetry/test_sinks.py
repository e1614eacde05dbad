"""Event sinks: the events a request produces, batching, drops, webhook retries, config checks, a live server."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from llm_simulator.config import load_config
from llm_simulator.config import telemetry as config_telemetry
from llm_simulator.config.loader import ConfigError
from llm_simulator.config.telemetry import SinkConfig
from llm_simulator.server.app import SimulatorApp
from llm_simulator.telemetry import events as ev
from llm_simulator.telemetry.sinks import (
    MAX_BACKOFF_S,
    BatchingSink,
    StdoutSink,
    WebhookSink,
    backoff_delay,
    build_sink,
    check_sinks,
    retry_after_seconds,
)
from tests.docs_examples import DOCS, doc_examples
from tests.live import free_port, live_server
from tests.server.asgi_driver import call

EVENTS_DOC = DOCS / "events.md"
CHAT_PATH = "/v1/chat/completions"
CHAT = orjson.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5})
STREAM = orjson.dumps(
    {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stream": True}
)
COMMON = ("schema", "event", "ts", "request_id", "trace_id", "provider", "endpoint", "model", "method", "path")


def make_app(*sinks: dict[str, Any]) -> SimulatorApp:
    """An in-process app without latency and with these event sinks."""
    return SimulatorApp(load_config(flags={"latency.enabled": False, "telemetry.events.sinks": list(sinks)}))


def sink_counts(app: SimulatorApp) -> list[tuple[str, int, int]]:
    """(name, sent, dropped) of each of the app's sinks."""
    return [(sink.name, sink.sent, sink.dropped) for sink in app.telemetry.sinks]


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSONL file, parsed (each line must be one JSON object)."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def event(name: str = ev.COMPLETED, n: int = 0) -> dict[str, Any]:
    """A small stand-in event."""
    return {"schema": ev.SCHEMA, "event": name, "request_id": f"req_{n}"}


def spec(**fields: Any) -> SinkConfig:
    """A sink configuration (webhook to a placeholder URL unless a type is given)."""
    return SinkConfig.model_validate({"type": "webhook", "url": "http://127.0.0.1:9/", **fields})


@pytest.fixture
def warnings_seen() -> Iterator[list[str]]:
    """Warnings of ``llm_simulator.telemetry``, captured on the logger itself (propagation may be off)."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger("llm_simulator.telemetry")
    handler = Collect(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)


# -- the event types ------------------------------------------------------------------------


def test_config_validates_against_the_schema_event_types() -> None:
    # One definition (core.event_types), not a copy kept equal by this test.
    assert config_telemetry.EVENT_TYPES is ev.EVENT_TYPES  # type: ignore[attr-defined]


# -- jsonl through the app ---------------------------------------------------------------------


async def test_a_streamed_request_writes_received_first_token_completed(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "events.jsonl"  # parents are created
    app = make_app({"type": "jsonl", "path": str(path)})
    reply = await call(app, "POST", CHAT_PATH, STREAM)
    assert reply.status == 200
    await app.telemetry.close()

    lines = read_lines(path)
    assert [e["event"] for e in lines] == [ev.RECEIVED, ev.FIRST_TOKEN, ev.COMPLETED]
    assert {e["request_id"] for e in lines} == {reply.headers["x-request-id"]}
    assert len({e["trace_id"] for e in lines}) == 1
    for e in lines:
        assert e["schema"] == "llm_simulator.event/v1"
        assert all(key in e for key in COMMON)
        assert (e["provider"], e["endpoint"], e["method"], e["path"]) == ("openai", "chat", "POST", CHAT_PATH)
    assert [e["ts"] for e in lines] == sorted(e["ts"] for e in lines)
    first, done = lines[1], lines[2]
    assert first["ttft_ms"] >= 0
    assert done["status"] == 200
    assert done["stream"] is True
    assert done["model"] == "gpt-4.1"
    assert done["output_tokens"] == 5
    assert done["finish_reason"] == "length"
    assert sink_counts(app) == [(f"jsonl:{path}", 3, 0)]


async def test_a_chaos_request_writes_chaos_injected_and_request_failed(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    app = make_app({"type": "jsonl", "path": str(path)})
    reply = await call(app, "POST", CHAT_PATH, CHAT, headers={"x-simulator-chaos": "error=rate_limit"})
    assert reply.status == 429
    await app.telemetry.close()

    lines = read_lines(path)
    assert [e["event"] for e in lines] == [ev.RECEIVED, ev.CHAOS_INJECTED, ev.FAILED]
    assert lines[1]["kind"] == "rate_limit"
    assert lines[1]["rule"] == "control_header"
    failed = lines[2]
    assert failed["status"] == 429
    assert failed["error_type"] == "rate_limit"
    assert failed["chaos"] == "rate_limit"


async def test_the_events_filter_keeps_only_the_listed_types(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    app = make_app({"type": "jsonl", "path": str(path), "events": [ev.COMPLETED, ev.FAILED]})
    await call(app, "POST", CHAT_PATH, STREAM)
    await call(app, "POST", CHAT_PATH, CHAT, headers={"x-simulator-chaos": "error=server_error"})
    await app.telemetry.close()
    assert [e["event"] for e in read_lines(path)] == [ev.COMPLETED, ev.FAILED]


async def test_batches_of_several_requests_arrive_whole_and_in_order(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    app = make_app({"type": "jsonl", "path": str(path), "batch_size": 4, "flush_interval_s": 0.01})
    ids = [(await call(app, "POST", CHAT_PATH, CHAT)).headers["x-request-id"] for _ in range(7)]
    await app.telemetry.close()
    lines = read_lines(path)
    assert [e["request_id"] for e in lines] == [i for i in ids for _ in range(2)]
    assert [e["event"] for e in lines] == [ev.RECEIVED, ev.COMPLETED] * 7


# -- the shared base: queue, drops, close ------------------------------------------------------


class BlockedSink(BatchingSink):
    """A sink whose delivery waits until ``release`` is set; records what it delivered."""

    def __init__(self, config: SinkConfig) -> None:
        super().__init__(config)
        self.release = asyncio.Event()
        self.started_delivery = asyncio.Event()
        self.delivered: list[list[dict[str, Any]]] = []

    async def deliver(self, batch: list[dict[str, Any]]) -> bool:
        self.started_delivery.set()
        await self.release.wait()
        self.delivered.append(batch)
        return True


async def test_a_full_queue_drops_new_events_and_counts_them(warnings_seen: list[str]) -> None:
    sink = BlockedSink(spec(queue_size=2, batch_size=1, flush_interval_s=60))
    sink.start()
    sink.emit(event(n=0))
    await asyncio.wait_for(sink.started_delivery.wait(), 5)  # event 0 is being delivered (blocked)
    for n in range(1, 6):
        sink.emit(event(n=n))  # 1 and 2 wait in the queue; 3, 4, 5 find it full
    assert sink.queued == 2
    assert sink.dropped == 3
    assert sum("queue full" in w for w in warnings_seen) == 1  # one warning, not one per event
    sink.release.set()
    await sink.close()
    assert [[e["request_id"] for e in b] for b in sink.delivered] == [["req_0"], ["req_1"], ["req_2"]]
    assert (sink.sent, sink.dropped) == (3, 3)


async def test_emit_never_waits_even_before_start() -> None:
    sink = BlockedSink(spec(queue_size=3))
    for n in range(10):
        sink.emit(event(n=n))
    assert (sink.queued, sink.dropped) == (3, 7)


async def test_close_delivers_the_queue_of_a_sink_never_started() -> None:
    sink = BlockedSink(spec(batch_size=2))
    sink.release.set()
    for n in range(5):
        sink.emit(event(n=n))
    await sink.close()
    assert [len(b) for b in sink.delivered] == [2, 2, 1]
    assert sink.sent == 5


async def test_close_is_bounded_when_delivery_hangs() -> None:
    sink = BlockedSink(spec(batch_size=2, timeout_s=0.1))
    sink.start()
    for n in range(5):
        sink.emit(event(n=n))
    started = time.monotonic()
    await sink.close()  # never released
    assert time.monotonic() - started < 2
    assert (sink.sent, sink.dropped) == (0, 5)  # the blocked batch and the queued events


async def test_a_full_batch_is_delivered_without_waiting_for_the_interval() -> None:
    sink = BlockedSink(spec(batch_size=3, flush_interval_s=60))
    sink.release.set()
    sink.start()
    for n in range(3):
        sink.emit(event(n=n))
    await asyncio.wait_for(sink.started_delivery.wait(), 5)
    await sink.close()
    assert [len(b) for b in sink.delivered] == [3]


async def test_a_partial_batch_is_delivered_after_the_interval() -> None:
    sink = BlockedSink(spec(batch_size=100, flush_interval_s=0.02))
    sink.release.set()
    sink.start()
    sink.emit(event())
    await asyncio.wait_for(sink.started_delivery.wait(), 5)
    await sink.close()
    assert sink.sent == 1


async def test_a_delivery_that_raises_drops_the_batch_and_keeps_going(warnings_seen: list[str]) -> None:
    class Flaky(BatchingSink):
        calls = 0

        async def deliver(self, batch: list[dict[str, Any]]) -> bool:
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise RuntimeError("boom")
            return True

    sink = Flaky(spec(batch_size=1))
    for n in range(3):
        sink.emit(event(n=n))
    await sink.close()
    assert (sink.sent, sink.dropped) == (2, 1)
    assert any("boom" in w for w in warnings_seen)


async def test_drops_are_exported_to_metrics_and_admin_stats(tmp_path: Path) -> None:
    # A long interval and a big batch: nothing is delivered while the requests run.
    path = tmp_path / "events.jsonl"
    app = make_app({"type": "jsonl", "path": str(path), "queue_size": 3, "batch_size": 1000, "flush_interval_s": 60})
    for _ in range(3):
        await call(app, "POST", CHAT_PATH, CHAT)  # 6 events: 3 queued, 3 dropped
    assert sink_counts(app) == [(f"jsonl:{path}", 0, 3)]
    # The scrape and the stats request are requests too (their events find the queue full).
    label = re.escape(f'{{sink="jsonl:{path}"}}')
    metrics = (await call(app, "GET", "/metrics")).body.decode()
    dropped = re.search(rf"^llm_simulator_events_dropped_total{label} (\S+)$", metrics, re.M)
    assert dropped is not None
    assert float(dropped.group(1)) >= 3
    assert re.search(rf"^llm_simulator_events_sent_total{label} 0.0$", metrics, re.M)
    stats = orjson.loads((await call(app, "GET", "/admin/stats")).body)
    [row] = stats["event_sinks"]
    assert (row["sink"], row["sent"]) == (f"jsonl:{path}", 0)
    assert row["dropped"] >= 3
    await app.telemetry.close()
    assert len(read_lines(path)) == 3


# -- stdout --------------------------------------------------------------------------------------


async def test_stdout_sink_writes_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app({"type": "stdout"})
    reply = await call(app, "POST", CHAT_PATH, CHAT)
    await app.telemetry.close()
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in lines] == [ev.RECEIVED, ev.COMPLETED]
    assert {e["request_id"] for e in lines} == {reply.headers["x-request-id"]}
    assert isinstance(build_sink(SinkConfig(type="stdout"), load_config()), StdoutSink)


async def test_build_sink_labels_every_type_by_its_configured_name(tmp_path: Path) -> None:
    config = load_config()
    specs = [
        SinkConfig(type="jsonl", path=str(tmp_path / "e.jsonl")),
        SinkConfig(type="webhook", url="https://user:pw@example.test:8443/in?token=x"),
        SinkConfig(type="otlp", endpoint="http://127.0.0.1:4318"),
        SinkConfig(type="stdout", name="console"),
    ]
    sinks = [build_sink(s, config) for s in specs]
    assert [s.name for s in sinks] == [
        f"jsonl:{tmp_path / 'e.jsonl'}",
        "webhook:https://example.test:8443/in",  # no credentials, no query
        "otlp:http://127.0.0.1:4318",
        "console",
    ]
    for sink in sinks:
        await sink.close()


# -- webhook ---------------------------------------------------------------------------------------


class Receiver:
    """A threaded HTTP server on 127.0.0.1 that answers POSTs with scripted statuses and records them."""

    def __init__(self, statuses: list[int], headers: dict[str, str] | None = None) -> None:
        self.statuses = statuses  # one per request; the last one repeats
        self.answer_headers = headers or {}
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.requests.append((self.path, dict(self.headers.items()), orjson.loads(body)))
                    index = min(len(receiver.requests), len(receiver.statuses)) - 1
                    status = receiver.statuses[index]
                self.send_response(status)
                for name, value in receiver.answer_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=secret"
        # A short poll interval: shutdown() waits for the loop to notice.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    @property
    def bodies(self) -> list[Any]:
        with self.lock:
            return [body for _, _, body in self.requests]


async def test_webhook_posts_batches_with_the_schema_and_headers() -> None:
    with Receiver([200]) as receiver:
        sink = WebhookSink(
            spec(url=receiver.url, batch_size=3, flush_interval_s=60, headers={"Authorization": "Bearer t0k"})
        )
        for n in range(7):
            sink.emit(event(n=n))
        sink.start()
        await sink.close()
        requests = list(receiver.requests)
    assert [len(body["events"]) for body in receiver.bodies] == [3, 3, 1]
    ids = [e["request_id"] for body in receiver.bodies for e in body["events"]]
    assert ids == [f"req_{n}" for n in range(7)]
    for path, headers, body in requests:
        assert path == "/hook?token=secret"
        assert body["schema"] == "llm_simulator.event/v1"
        assert headers["Content-Type"] == "application/json"
        assert headers["Authorization"] == "Bearer t0k"
        assert headers["User-Agent"].startswith("llm-simulator/")
    assert len({headers["Idempotency-Key"] for _, headers, _ in requests}) == 3
    assert (sink.sent, sink.dropped) == (7, 0)
    assert sink.name == f"webhook:http://127.0.0.1:{receiver.server.server_address[1]}/hook"  # no token


async def test_webhook_retries_503_and_delivers_on_the_third_attempt() -> None:
    with Receiver([503, 503, 200]) as receiver:
        sink = WebhookSink(spec(url=receiver.url, backoff_s=0.01, max_retries=5))
        sink.emit(event(n=1))
        await sink.close()
        requests = list(receiver.requests)
    assert len(requests) == 3
    assert all(body["events"] == [event(n=1)] for _, _, body in requests)
    assert len({headers["Idempotency-Key"] for _, headers, _ in requests}) == 1  # the same batch each time
    assert (sink.sent, sink.dropped) == (1, 0)


async def test_webhook_gives_up_after_max_retries_and_counts_the_drop(warnings_seen: list[str]) -> None:
    with Receiver([500]) as receiver:
        sink = WebhookSink(spec(url=receiver.url, backoff_s=0.01, max_retries=2, batch_size=10))
        for n in range(4):
            sink.emit(event(n=n))
        await sink.close()
        attempts = len(receiver.requests)
    assert attempts == 3  # the first and two retries
    assert (sink.sent, sink.dropped) == (0, 4)
    assert [w for w in warnings_seen if "after 3 attempt(s)" in w]


async def test_webhook_honours_retry_after_on_429() -> None:
    with Receiver([429, 200], headers={"Retry-After": "0"}) as receiver:
        # A backoff of a minute: only the Retry-After of 0 s lets this finish in time.
        sink = WebhookSink(spec(url=receiver.url, backoff_s=60, max_retries=1, timeout_s=5))
        sink.emit(event())
        started = time.monotonic()
        await sink.close()
        attempts = len(receiver.requests)
    assert time.monotonic() - started < 4
    assert attempts == 2
    assert sink.sent == 1


async def test_webhook_does_not_retry_a_client_error(warnings_seen: list[str]) -> None:
    with Receiver([401]) as receiver:
        sink = WebhookSink(spec(url=receiver.url, backoff_s=0.01, batch_size=1))
        for n in range(3):
            sink.emit(event(n=n))
        await sink.close()
        attempts = len(receiver.requests)
    assert attempts == 3  # one per batch, no retry
    assert (sink.sent, sink.dropped) == (0, 3)
    assert len([w for w in warnings_seen if "401" in w]) == 1  # warned once per status


async def test_a_dead_webhook_never_slows_requests(warnings_seen: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/events"  # nothing listens: connections are refused
    app = make_app(
        {"type": "webhook", "url": url, "batch_size": 1, "backoff_s": 0.05, "max_retries": 50, "timeout_s": 0.5}
    )
    started = time.monotonic()
    for _ in range(20):
        assert (await call(app, "POST", CHAT_PATH, CHAT)).status == 200
    # Twenty in-process requests take milliseconds; the bound only catches waiting on the sink.
    assert time.monotonic() - started < 3
    closing = time.monotonic()
    await app.telemetry.close()
    assert time.monotonic() - closing < 3  # bounded by timeout_s, not by 50 retries
    assert sink_counts(app) == [(f"webhook:{url}", 0, 40)]
    assert any("no answer" in w for w in warnings_seen)


def test_backoff_doubles_is_capped_and_follows_retry_after() -> None:
    assert [backoff_delay(0.5, attempt, None) for attempt in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delay(0.5, 20, None) == MAX_BACKOFF_S
    assert backoff_delay(0.5, 0, 2.5) == 2.5
    assert backoff_delay(0.5, 0, 3600) == MAX_BACKOFF_S
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("-1") == 0.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert retry_after_seconds("nan") is None
    assert retry_after_seconds(None) is None


# -- configuration ----------------------------------------------------------------------------------


def config_error(*sinks: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(flags={"telemetry.events.sinks": list(sinks)})
    return str(caught.value)


def test_config_errors_name_the_key_and_the_fix() -> None:
    assert "telemetry.events.sinks.0: Value error, a jsonl sink needs `path`" in config_error({"type": "jsonl"})
    assert "a webhook sink needs `url`" in config_error({"type": "webhook"})
    assert "url must start with http:// or https://, got 'ftp://x/'" in config_error(
        {"type": "webhook", "url": "ftp://x/"}
    )
    assert "url has no host" in config_error({"type": "webhook", "url": "http:///x"})
    assert "endpoint must start with http://" in config_error({"type": "otlp", "endpoint": "localhost:4318"})
    message = config_error({"type": "stdout", "events": ["request.completed", "request.done"]})
    assert "telemetry.events.sinks.0.events" in message
    assert "unknown event type 'request.done'; valid types: " + ", ".join(ev.EVENT_TYPES) in message
    assert "telemetry.events.sinks.0.type" in config_error({"type": "kafka"})
    assert "two event sinks are named 'stdout'" in config_error({"type": "stdout"}, {"type": "stdout"})
    load_config(flags={"telemetry.events.sinks": [{"type": "stdout"}, {"type": "stdout", "name": "second"}]})


def test_an_unwritable_jsonl_path_is_a_config_error_at_startup(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    path = blocker / "events.jsonl"
    config = load_config(flags={"telemetry.events.sinks": [{"type": "jsonl", "path": str(path)}]})
    with pytest.raises(ConfigError, match=re.escape(f"telemetry.events.sinks: jsonl:{path}: cannot write to {path}")):
        check_sinks(config)
    with pytest.raises(ConfigError, match="cannot write to"):
        SimulatorApp(config)


def test_every_example_of_the_document_is_a_valid_configuration(tmp_path: Path) -> None:
    examples = doc_examples(EVENTS_DOC)
    assert {"jsonl", "stdout", "webhook", "otlp", "several"} <= set(examples)
    for name, text in examples.items():
        file = tmp_path / f"{name}.yaml"
        file.write_text(text, encoding="utf-8")
        try:
            config = load_config(file)
        except ConfigError as exc:  # pragma: no cover - the message says which example
            raise AssertionError(f"example {name}: {exc}") from None
        assert config.telemetry.events.sinks, name


# -- a real server -------------------------------------------------------------------------------------


def test_a_live_server_writes_its_events_to_the_jsonl_file(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "events.jsonl"
    config = tmp_path / "simulator.yaml"
    config.write_text(
        yaml.safe_dump({"telemetry": {"events": {"sinks": [{"type": "jsonl", "path": str(path)}]}}}),
        encoding="utf-8",
    )
    with live_server("--config", str(config), "--no-latency") as live:
        reply = httpx.post(
            live.openai_base + "/chat/completions",
            json={"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "stream": True},
            timeout=10,
        )
        assert reply.status_code == 200
    # Stopping the server flushed the queue. (The start-up probes of /health have events too.)
    lines = read_lines(path)
    assert all(e["schema"] == ev.SCHEMA for e in lines)
    mine = [e["event"] for e in lines if e["request_id"] == reply.headers["x-request-id"]]
    assert mine == [ev.RECEIVED, ev.FIRST_TOKEN, ev.COMPLETED]
