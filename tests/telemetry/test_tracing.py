"""OpenTelemetry spans and OTLP log events, checked at a real (in-test) OTLP/HTTP collector."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import openai
import orjson
import pytest
import yaml
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from llm_simulator.config.loader import ConfigError, load_config
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.config.telemetry import SinkConfig
from llm_simulator.core.record import RequestRecord
from llm_simulator.server.app import SimulatorApp
from llm_simulator.server.connection import ConnectionCut
from llm_simulator.telemetry.hub import Telemetry
from llm_simulator.telemetry.otlp_events import OtlpLogSink, attribute_value
from llm_simulator.telemetry.setup import build_telemetry
from llm_simulator.telemetry.stats import Stats
from llm_simulator.telemetry.tracing import OtlpTracer, build_tracer, signal_url, span_name
from tests.docs_examples import DOCS, doc_example
from tests.live import live_server
from tests.server.asgi_driver import call
from tests.telemetry.otlp_receiver import OtlpReceiver, attributes, otlp_receiver

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
STREAM = orjson.dumps(
    {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20, "stream": True}
)
CHAT = orjson.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20})
CLAUDE = orjson.dumps({"model": "claude-sonnet-4-6", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]})
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:generateContent"
GEMINI = orjson.dumps({"contents": [{"parts": [{"text": "hi"}]}]})


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as r:
        yield r


def traced_app(receiver: OtlpReceiver, **tracing: Any) -> SimulatorApp:
    # A short export timeout bounds the exit-time flush of a test that failed before closing.
    tracing = {"otlp_endpoint": receiver.url, "export_timeout_s": 3, **tracing}
    config = SimulatorConfig.model_validate({"latency": {"enabled": False}, "telemetry": {"tracing": tracing}})
    return SimulatorApp(config)


def span_attrs(span: Span) -> dict[str, Any]:
    return attributes(span.attributes)


def only_span(receiver: OtlpReceiver, request_id: str) -> Span:
    found = [s for s in receiver.spans() if span_attrs(s).get("llm_simulator.request_id") == request_id]
    assert len(found) == 1, receiver.got.paths
    return found[0]


def events(span: Span) -> dict[str, dict[str, Any]]:
    return {e.name: {"time": e.time_unix_nano, **attributes(e.attributes)} for e in span.events}


# -- in process ------------------------------------------------------------------------------


async def test_streamed_chat_continues_the_callers_trace(receiver: OtlpReceiver) -> None:
    app = traced_app(receiver)
    got = await call(app, "POST", "/v1/chat/completions", STREAM, headers={"traceparent": TRACEPARENT})
    assert got.status == 200 and got.complete
    await app.telemetry.close()

    span = only_span(receiver, got.headers["x-request-id"])
    assert span.trace_id.hex() == TRACE_ID
    assert span.parent_span_id.hex() == PARENT_ID
    assert len(span.span_id) == 8 and span.span_id.hex() != PARENT_ID
    assert span.name == "chat gpt-4.1"
    assert span.kind == Span.SpanKind.SPAN_KIND_SERVER
    assert span.status.code == Status.StatusCode.STATUS_CODE_UNSET
    assert span.start_time_unix_nano < span.end_time_unix_nano
    attrs = span_attrs(span)
    assert attrs["gen_ai.system"] == attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == attrs["gen_ai.response.model"] == "gpt-4.1"
    assert attrs["gen_ai.usage.input_tokens"] > 0
    assert attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["gen_ai.response.finish_reasons"] in (["stop"], ["length"])
    assert attrs["http.request.method"] == "POST"
    assert attrs["http.response.status_code"] == 200
    assert attrs["url.path"] == "/v1/chat/completions"
    assert attrs["llm_simulator.stream"] is True
    assert attrs["llm_simulator.cost_dollars"] > 0
    assert "error.type" not in attrs
    first = events(span)["gen_ai.first_token"]
    assert span.start_time_unix_nano <= first["time"] <= span.end_time_unix_nano
    assert first["llm_simulator.ttft_ms"] >= 0
    # The resource names the service.
    resource = receiver.got.spans[0][0]
    assert resource["service.name"] == "llm-simulator"
    assert resource["service.version"]


async def test_a_request_without_traceparent_starts_a_new_trace(receiver: OtlpReceiver) -> None:
    app = traced_app(receiver, service_name="sim-under-test")
    first = await call(app, "POST", "/v1/chat/completions", CHAT)
    second = await call(app, "POST", "/v1/chat/completions", CHAT)
    await app.telemetry.close()

    a, b = only_span(receiver, first.headers["x-request-id"]), only_span(receiver, second.headers["x-request-id"])
    assert a.trace_id != b.trace_id
    assert len(a.trace_id) == 16 and a.trace_id.hex() != TRACE_ID
    assert a.parent_span_id == b"" and b.parent_span_id == b""
    assert span_attrs(a)["llm_simulator.stream"] is False
    assert receiver.got.spans[0][0]["service.name"] == "sim-under-test"


async def test_a_chaos_429_is_an_error_type_but_not_an_error_status(receiver: OtlpReceiver) -> None:
    app = traced_app(receiver)
    got = await call(app, "POST", "/v1/chat/completions", CHAT, headers={"x-simulator-chaos": "error=rate_limit"})
    assert got.status == 429
    await app.telemetry.close()

    span = only_span(receiver, got.headers["x-request-id"])
    attrs = span_attrs(span)
    assert attrs["http.response.status_code"] == 429
    assert attrs["error.type"] == "rate_limit"
    assert "gen_ai.response.model" not in attrs
    # HTTP server conventions: a 4xx leaves the span status unset.
    assert span.status.code == Status.StatusCode.STATUS_CODE_UNSET
    assert events(span)["chaos.injected"]["chaos.type"] == "rate_limit"
    assert "gen_ai.first_token" not in events(span)


async def test_a_5xx_sets_the_error_status(receiver: OtlpReceiver) -> None:
    app = traced_app(receiver)
    got = await call(app, "POST", "/v1/chat/completions", CHAT, headers={"x-simulator-chaos": "error=server_error"})
    assert got.status == 500
    await app.telemetry.close()

    span = only_span(receiver, got.headers["x-request-id"])
    assert span.status.code == Status.StatusCode.STATUS_CODE_ERROR
    assert span_attrs(span)["error.type"] == "server_error"


async def test_a_broken_stream_is_an_error(receiver: OtlpReceiver) -> None:
    app = traced_app(receiver)
    # The app raises the cut out to the ASGI server, which drops the connection.
    with pytest.raises(ConnectionCut) as cut:
        await call(
            app, "POST", "/v1/chat/completions", STREAM, headers={"x-simulator-chaos": "fault=disconnect; after=3"}
        )
    await app.telemetry.close()

    span = only_span(receiver, str(cut.value))
    attrs = span_attrs(span)
    assert span.status.code == Status.StatusCode.STATUS_CODE_ERROR
    assert attrs["error.type"] == "stream_disconnect"
    assert attrs["gen_ai.usage.output_tokens"] > 0  # what was released before the cut
    assert events(span)["chaos.injected"]["chaos.type"] == "disconnect"
    assert "gen_ai.first_token" in events(span)


async def test_each_provider_names_its_system_and_operation(receiver: OtlpReceiver) -> None:
    app = traced_app(receiver)
    claude = await call(app, "POST", "/v1/messages", CLAUDE, headers={"anthropic-version": "2023-06-01"})
    gemini = await call(app, "POST", GEMINI_PATH, GEMINI)
    models = await call(app, "GET", "/v1/models")
    await app.telemetry.close()

    anthropic_span = only_span(receiver, claude.headers["x-request-id"])
    assert anthropic_span.name == "chat claude-sonnet-4-6"
    assert span_attrs(anthropic_span)["gen_ai.system"] == "anthropic"
    gemini_span = only_span(receiver, gemini.headers["x-request-id"])
    assert gemini_span.name.startswith("generate_content gemini-2.5-flash")
    assert span_attrs(gemini_span)["gen_ai.system"] == "gcp.gemini"
    assert span_attrs(gemini_span)["gen_ai.operation.name"] == "generate_content"
    plain = only_span(receiver, models.headers["x-request-id"])
    assert plain.name == "GET models"
    assert not any(key.startswith("gen_ai.") for key in span_attrs(plain))


async def test_sampling_drops_new_traces_but_follows_a_sampled_parent(receiver: OtlpReceiver) -> None:
    app = traced_app(receiver, sample_ratio=0.0)
    unsampled = await call(app, "POST", "/v1/chat/completions", CHAT)
    continued = await call(app, "POST", "/v1/chat/completions", CHAT, headers={"traceparent": TRACEPARENT})
    await app.telemetry.close()

    ids = {span_attrs(s)["llm_simulator.request_id"] for s in receiver.spans()}
    assert continued.headers["x-request-id"] in ids
    assert unsampled.headers["x-request-id"] not in ids


async def test_collector_headers_and_a_full_signal_url(receiver: OtlpReceiver) -> None:
    app = traced_app(receiver, headers={"x-tenant": "team-a"})
    # A URL ending in /v1/traces is used as given.
    config = SimulatorConfig.model_validate(
        {"telemetry": {"tracing": {"otlp_endpoint": receiver.url + "/v1/traces/", "headers": {"x-tenant": "b"}}}}
    )
    other = build_tracer(config)
    got = await call(app, "POST", "/v1/chat/completions", CHAT)
    await app.telemetry.close()
    await other.close()
    assert only_span(receiver, got.headers["x-request-id"])
    assert receiver.got.headers[0]["x-tenant"] == "team-a"
    assert receiver.got.paths == ["/v1/traces"]  # the second tracer exported nothing
    assert signal_url("http://c:4318/", "logs") == "http://c:4318/v1/logs"
    assert signal_url("http://c:4318/v1/logs", "logs") == "http://c:4318/v1/logs"


def test_span_names() -> None:
    rec = RequestRecord("req_1", "POST", "/v1/completions", 0.0, 0.0)
    rec.endpoint, rec.model = "completion", "gpt-3.5-turbo-instruct"
    assert span_name(rec) == "text_completion gpt-3.5-turbo-instruct"
    rec.endpoint = "embedding"
    assert span_name(rec) == "embeddings gpt-3.5-turbo-instruct"
    rec.endpoint, rec.model = "chat", ""
    assert span_name(rec) == "chat"  # rejected before a model was read
    rec.method, rec.endpoint = "GET", "responses"
    assert span_name(rec) == "GET responses"  # retrieving a stored response is not a generation


async def test_closing_twice_and_exporting_after_close_are_harmless(receiver: OtlpReceiver) -> None:
    config = SimulatorConfig.model_validate({"telemetry": {"tracing": {"otlp_endpoint": receiver.url}}})
    tracer = build_tracer(config)
    await tracer.close()
    await tracer.close()
    rec = RequestRecord("req_late", "POST", "/v1/chat/completions", 0.0, 1.0)
    tracer.export(rec, 0.1, 0, 0.0)
    assert receiver.spans() == []


# -- configuration ---------------------------------------------------------------------------------


async def test_the_standard_otel_environment_variable_alone_turns_tracing_on() -> None:
    config = load_config(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    assert config.telemetry.tracing.otlp_endpoint == "http://127.0.0.1:9"
    assert load_config(environ={"LLM_SIMULATOR_OTLP_ENDPOINT": "http://h:4318"}).telemetry.tracing.otlp_endpoint
    assert load_config(environ={}).telemetry.tracing.otlp_endpoint is None
    telemetry = build_telemetry(config, Stats())
    assert isinstance(telemetry.tracer, OtlpTracer)
    await telemetry.tracer.close()  # nothing queued: no export attempt


def test_a_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    config = SimulatorConfig.model_validate({"telemetry": {"tracing": {"otlp_endpoint": "http://127.0.0.1:9"}}})
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk._logs", None)
    with pytest.raises(ConfigError, match=r"pip install 'llm-simulator\[otel\]'"):
        build_tracer(config)
    with pytest.raises(ConfigError, match=r"llm-simulator\[otel\]"):
        build_telemetry(config, Stats())
    with pytest.raises(ConfigError, match=r"llm-simulator\[otel\]"):
        OtlpLogSink(SinkConfig(type="otlp"), config)


def test_the_documented_examples_load() -> None:
    tracing = SimulatorConfig.model_validate(yaml.safe_load(doc_example(DOCS / "tracing.md", "tracing-config")))
    assert tracing.telemetry.tracing.sample_ratio == 0.25
    sink = SimulatorConfig.model_validate(yaml.safe_load(doc_example(DOCS / "tracing.md", "otlp-sink")))
    [spec] = sink.telemetry.events.sinks
    assert spec.type == "otlp" and spec.endpoint is None  # falls back to tracing.otlp_endpoint


def test_an_otlp_sink_needs_an_endpoint() -> None:
    with pytest.raises(ConfigError, match="endpoint"):
        OtlpLogSink(SinkConfig(type="otlp"), SimulatorConfig())


# -- OTLP log events --------------------------------------------------------------------------------


def log_attrs(record: LogRecord) -> dict[str, Any]:
    return attributes(record.attributes)


async def test_events_arrive_as_log_records_linked_to_the_trace(receiver: OtlpReceiver) -> None:
    config = SimulatorConfig.model_validate({"latency": {"enabled": False}})
    sink = OtlpLogSink(SinkConfig(type="otlp", endpoint=receiver.url), config)
    app = SimulatorApp(config, telemetry=Telemetry(config, Stats(), sinks=[sink]))
    got = await call(app, "POST", "/v1/chat/completions", STREAM, headers={"traceparent": TRACEPARENT})
    failed = await call(app, "POST", "/v1/chat/completions", CHAT, headers={"x-simulator-chaos": "error=overloaded"})
    await app.telemetry.close()

    request_id = got.headers["x-request-id"]
    mine = [r for r in receiver.logs() if log_attrs(r).get("request_id") == request_id]
    names = [r.body.string_value for r in mine]
    assert names[0] == "request.received" and names[-1] == "request.completed"
    assert "request.first_token" in names
    for record in mine:
        attrs = log_attrs(record)
        assert attrs["event.name"] == record.event_name == record.body.string_value
        assert record.trace_id.hex() == TRACE_ID
        assert record.time_unix_nano > 0
        assert None not in attrs.values()
    completed = log_attrs(mine[-1])
    assert completed["status"] == 200
    assert completed["output_tokens"] > 0
    assert completed["schema"] == "llm_simulator.event/v1"
    assert "error_type" not in completed  # None fields are left out

    other = [r for r in receiver.logs() if log_attrs(r).get("request_id") == failed.headers["x-request-id"]]
    by_name = {r.body.string_value: r for r in other}
    assert {"chaos.injected", "request.failed"} <= set(by_name)
    assert by_name["request.failed"].severity_text == "WARN"
    assert log_attrs(by_name["chaos.injected"])["kind"] == "overloaded"
    assert len(other[0].trace_id) == 16  # a fresh trace without traceparent
    assert sink.sent == len(mine) + len(other) and sink.dropped == 0


async def test_the_sink_counts_what_it_cannot_send(receiver: OtlpReceiver) -> None:
    config = SimulatorConfig()
    sink = OtlpLogSink(SinkConfig(type="otlp", endpoint=receiver.url, events=("request.completed",)), config)
    assert sink.name == "otlp"
    assert sink.wants("request.completed") and not sink.wants("request.received")
    sink.emit({"event": "request.completed", "trace_id": "not hex", "request_id": "r1"})  # unusable: dropped
    sink.emit({"event": "request.completed", "trace_id": None, "ts": 1.5, "request_id": "r2", "tags": ["a", 1]})
    await sink.close()
    sink.emit({"event": "request.completed", "request_id": "r3"})  # after close: dropped
    assert (sink.sent, sink.dropped) == (1, 2)
    [record] = receiver.logs()
    assert log_attrs(record)["request_id"] == "r2"
    assert log_attrs(record)["tags"] == '["a",1]'  # a mixed list travels as JSON
    assert record.time_unix_nano == 1_500_000_000
    assert record.trace_id == b""


def test_attribute_values() -> None:
    assert attribute_value(3) == 3
    assert attribute_value(["a", "b"]) == ["a", "b"]
    assert attribute_value({"k": 1}) == '{"k":1}'
    assert attribute_value([]) == "[]"


async def test_the_sink_from_configuration(receiver: OtlpReceiver) -> None:
    pytest.importorskip("llm_simulator.telemetry.sinks")
    config = SimulatorConfig.model_validate(
        {
            "latency": {"enabled": False},
            "telemetry": {"events": {"sinks": [{"type": "otlp", "endpoint": receiver.url}]}},
        }
    )
    app = SimulatorApp(config)
    got = await call(app, "POST", "/v1/chat/completions", CHAT)
    await app.telemetry.close()
    ids = {log_attrs(r)["request_id"] for r in receiver.logs()}
    assert got.headers["x-request-id"] in ids


# -- a real server and the official SDK --------------------------------------------------------------


def test_a_live_server_exports_the_sdk_callers_trace(receiver: OtlpReceiver) -> None:
    with live_server("--otlp-endpoint", receiver.url, "--no-latency") as server:
        client = openai.OpenAI(base_url=server.openai_base, api_key="sk-test", max_retries=0)
        with client:
            raw = client.chat.completions.with_raw_response.create(
                model="gpt-4.1",
                messages=[{"role": "user", "content": "hi"}],
                max_tokens=10,
                extra_headers={"traceparent": TRACEPARENT},
            )
        request_id = raw.headers["x-request-id"]
    # Stopping the server flushed the batch (lifespan shutdown closes the tracer).
    assert receiver.wait_for(lambda: any(s.trace_id.hex() == TRACE_ID for s in receiver.spans()), timeout=10)
    span = only_span(receiver, request_id)
    assert span.trace_id.hex() == TRACE_ID
    assert span.parent_span_id.hex() == PARENT_ID
    assert span.name == "chat gpt-4.1"
