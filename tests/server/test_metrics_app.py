"""``/metrics``, ``/admin/stats`` and ``/admin/stats/export`` through the in-process app."""

from __future__ import annotations

import contextlib
import csv
import io
import logging
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.server.app import SimulatorApp
from llm_simulator.server.connection import ConnectionCut
from llm_simulator.telemetry.prometheus import METRIC_NAMES
from tests.server.asgi_driver import call

JSON = {"content-type": "application/json"}


def _app(**config: Any) -> SimulatorApp:
    return SimulatorApp(SimulatorConfig.model_validate({"latency": {"multiplier": 0.02}, **config}))


def _chat(stream: bool = False, max_tokens: int = 12, model: str = "gpt-4o") -> bytes:
    return orjson.dumps(
        {"model": model, "stream": stream, "max_tokens": max_tokens, "messages": [{"role": "user", "content": "hi"}]}
    )


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def _scrape(app: SimulatorApp) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    got = await call(app, "GET", "/metrics")
    assert got.status == 200
    assert got.headers["content-type"].startswith("text/plain; version=0.0.4")
    return _samples(got.body.decode())


async def test_a_stream_and_a_completion_are_counted_with_their_tokens_and_timings() -> None:
    app = _app()
    assert (
        await call(app, "POST", "/v1/chat/completions", _chat(stream=True, max_tokens=10), headers=JSON)
    ).status == 200
    assert (await call(app, "POST", "/v1/chat/completions", _chat(max_tokens=10), headers=JSON)).status == 200
    s = await _scrape(app)
    labels = {"provider": "openai", "model": "gpt-4o"}
    assert _value(s, "llm_simulator_requests_total", endpoint="chat", status="200", **labels) == 2
    assert _value(s, "llm_simulator_ttft_seconds_count", **labels) == 1  # only the stream has a first token
    assert _value(s, "llm_simulator_itl_seconds_count", **labels) == 9  # ten tokens, nine gaps
    assert _value(s, "llm_simulator_e2e_request_latency_seconds_count", **labels) == 2
    output = _value(s, "llm_simulator_tokens_output_total", **labels)
    prompt = _value(s, "llm_simulator_tokens_input_total", **labels)
    assert output == 20
    assert prompt > 0
    # gpt-4o lists at $2.50 / $10 per million tokens.
    assert _value(s, "llm_simulator_cost_dollars_total", **labels) == pytest.approx((prompt * 2.5 + output * 10) / 1e6)
    assert _value(s, "llm_simulator_stream_chunks_total", **labels) >= 10
    assert _value(s, "vllm:time_to_first_token_seconds_count", model_name="gpt-4o") == 1
    assert _value(s, "vllm:generation_tokens_total", model_name="gpt-4o") == 20
    await app.telemetry.close()


async def test_every_declared_metric_is_exported() -> None:
    app = _app()
    await call(app, "POST", "/v1/chat/completions", _chat(stream=True), headers=JSON)
    got = await call(app, "GET", "/metrics")
    families = {f.name for f in text_string_to_metric_families(got.body.decode())}
    exported = {f"{n}_total" if f"{n}_total" in METRIC_NAMES else n for n in families}
    missing = [n for n in METRIC_NAMES if n not in exported and n.removesuffix("_total") not in families]
    assert missing == []
    assert "process_resident_memory_bytes" in families
    await app.telemetry.close()


async def test_errors_chaos_rate_limits_and_auth_failures_are_counted() -> None:
    app = _app(
        auth={"require_auth": True, "api_keys": ["sk-metrics-test-key-0001"]},
        rate_limits={"enabled": True, "tiers": [{"name": "tiny", "requests_per_minute": 1}]},
    )
    auth = {**JSON, "authorization": "Bearer sk-metrics-test-key-0001"}
    assert (await call(app, "POST", "/v1/chat/completions", _chat(), headers=auth)).status == 200
    assert (await call(app, "POST", "/v1/chat/completions", _chat(), headers=auth)).status == 429  # tier spent
    assert (await call(app, "POST", "/v1/chat/completions", _chat(), headers=JSON)).status == 401  # no key
    bad = {**JSON, "authorization": "Bearer sk-wrong-key-000000000000"}
    assert (await call(app, "POST", "/v1/chat/completions", _chat(), headers=bad)).status == 401
    assert (await call(app, "POST", "/v1/chat/completions", b"{not json", headers=auth)).status == 400
    s = await _scrape(app)
    assert _value(s, "llm_simulator_rate_limit_hits_total", tier="tiny") == 1
    assert _value(s, "llm_simulator_auth_failures_total", reason="missing_key") == 1
    assert _value(s, "llm_simulator_auth_failures_total", reason="invalid_key") == 1
    assert _value(s, "llm_simulator_errors_total", provider="openai", error_type="rate_limit") == 1
    assert _value(s, "llm_simulator_errors_total", provider="openai", error_type="authentication") == 2
    assert _value(s, "llm_simulator_errors_total", provider="openai", error_type="invalid_request") == 1
    await app.telemetry.close()


async def test_chaos_injections_are_counted_by_type() -> None:
    app = _app()
    for value in ("error=overloaded", "error=rate_limit", "fault=disconnect; after=2"):
        with contextlib.suppress(ConnectionCut):  # the disconnect fault drops the connection
            await call(
                app, "POST", "/v1/chat/completions", _chat(stream=True), headers={**JSON, "x-simulator-chaos": value}
            )
    s = await _scrape(app)
    assert _value(s, "llm_simulator_chaos_injections_total", type="overloaded") == 1
    assert _value(s, "llm_simulator_chaos_injections_total", type="rate_limit") == 1
    assert _value(s, "llm_simulator_chaos_injections_total", type="disconnect") == 1
    assert _value(s, "llm_simulator_errors_total", provider="openai", error_type="stream_disconnect") == 1
    await app.telemetry.close()


async def test_each_provider_and_embeddings_are_labelled() -> None:
    app = _app()
    anthropic = orjson.dumps(
        {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    )
    got = await call(
        app, "POST", "/v1/messages", anthropic, headers={**JSON, "x-api-key": "k", "anthropic-version": "2023-06-01"}
    )
    assert got.status == 200
    gemini = orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    assert (
        await call(app, "POST", "/v1beta/models/gemini-2.5-flash:generateContent", gemini, headers=JSON)
    ).status == 200
    embed = orjson.dumps({"model": "text-embedding-3-small", "input": "hello there"})
    assert (await call(app, "POST", "/v1/embeddings", embed, headers=JSON)).status == 200
    s = await _scrape(app)
    assert (
        _value(
            s,
            "llm_simulator_requests_total",
            provider="anthropic",
            model="claude-sonnet-4-5-20250929",
            endpoint="messages",
            status="200",
        )
        == 1
    )
    gemini_rows = [k for k in s if k[0] == "llm_simulator_requests_total" and ("provider", "gemini") in k[1]]
    assert len(gemini_rows) == 1
    assert ("model", "gemini-2.5-flash") in gemini_rows[0][1]
    assert _value(s, "llm_simulator_tokens_input_total", provider="openai", model="text-embedding-3-small") > 0
    await app.telemetry.close()


async def test_admin_stats_has_per_model_percentiles_and_resets() -> None:
    app = _app()
    for _ in range(3):
        await call(app, "POST", "/v1/chat/completions", _chat(stream=True), headers=JSON)
    stats = orjson.loads((await call(app, "GET", "/admin/stats")).body)
    (row,) = [r for r in stats["models"] if r["model"] == "gpt-4o"]
    assert row["requests"] == 3
    assert row["ttft_ms"]["count"] == 3
    assert 0 < row["ttft_ms"]["p50"] <= row["ttft_ms"]["p99"] <= row["ttft_ms"]["max"]
    assert row["itl_ms"]["count"] == 3 * 11
    assert stats["queue"] == {"running": 0, "waiting": 0}
    assert (await call(app, "POST", "/admin/stats/reset")).status == 200
    stats = orjson.loads((await call(app, "GET", "/admin/stats")).body)
    assert stats["models"] == []
    await app.telemetry.close()


async def test_export_as_json_and_csv() -> None:
    app = _app()
    key = {**JSON, "authorization": "Bearer sk-export-test-abcdefghijkl"}
    await call(app, "POST", "/v1/chat/completions", _chat(stream=True), headers=key)
    await call(app, "POST", "/v1/chat/completions", _chat(), headers=JSON)
    data = orjson.loads((await call(app, "GET", "/admin/stats/export", query="format=json")).body)
    assert data["models"][0]["requests"] == 2
    (key_row,) = data["keys"]
    assert key_row["api_key"].startswith("sk-***l#")  # masked: never the key itself
    assert "abcdefghijkl" not in orjson.dumps(data).decode()
    got = await call(app, "GET", "/admin/stats/export", query="format=csv")
    assert got.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.body.decode())))
    assert rows[0]["model"] == "gpt-4o"
    assert rows[0]["requests"] == "2"
    assert float(rows[0]["ttft_ms_p50"]) > 0
    keys = list(
        csv.DictReader(
            io.StringIO((await call(app, "GET", "/admin/stats/export", query="format=csv&by=key")).body.decode())
        )
    )
    assert keys[0]["requests"] == "1"
    await app.telemetry.close()


@pytest.mark.parametrize(("query", "param"), [("format=xml", "format"), ("by=planet", "by")])
async def test_export_rejects_unknown_options(query: str, param: str) -> None:
    app = _app()
    got = await call(app, "GET", "/admin/stats/export", query=query)
    assert got.status == 400
    error = orjson.loads(got.body)["error"]
    assert error["param"] == param
    assert param in error["message"]


async def test_metrics_can_be_turned_off() -> None:
    app = _app(telemetry={"metrics": {"enabled": False}})
    assert (await call(app, "GET", "/metrics")).status == 404


async def test_metrics_are_served_without_a_key_when_auth_is_on() -> None:
    app = _app(auth={"require_auth": True, "api_keys": ["sk-metrics-test-key-0001"]})
    assert (await call(app, "GET", "/metrics")).status == 200


async def test_json_logs_carry_the_request_and_trace_ids(capsys: pytest.CaptureFixture[str]) -> None:
    from llm_simulator.server.factory import configure_logging

    configure_logging("info", json_logs=True)
    try:
        app = _app(logging={"access_log": True, "json_logs": True})
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01", "x-request-id": "req-log-1"}
        await call(app, "GET", "/v1/models", headers=headers)
        lines = [orjson.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
        access = [e for e in lines if e.get("logger") == "llm_simulator.access"]
        assert access
        assert access[-1]["request_id"] == "req-log-1"
        assert access[-1]["trace_id"] == trace_id
    finally:
        logging.getLogger("llm_simulator").handlers.clear()
        logging.getLogger("llm_simulator").propagate = True


async def test_text_logs_name_the_request(capsys: pytest.CaptureFixture[str]) -> None:
    from llm_simulator.server.factory import configure_logging

    configure_logging("info", json_logs=False)
    try:
        app = _app(logging={"access_log": True})
        await call(app, "GET", "/v1/models", headers={"x-request-id": "req-log-2"})
        err = capsys.readouterr().err
        assert "[request_id=req-log-2]" in err
    finally:
        logging.getLogger("llm_simulator").handlers.clear()
        logging.getLogger("llm_simulator").propagate = True
