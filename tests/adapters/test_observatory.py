"""The observatory: OTLP/JSON spans of real LLM calls (the receiver, a file, an HTTP upstream) become
per-model summaries and behaviour — a fitted profile, observed output lengths, a chaos error mix."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from llm_simulator.adapters import AdapterRegistry
from llm_simulator.adapters.observatory.summary import behaviour, error_type_of, summarise
from llm_simulator.adapters.otlp import LlmSpan
from llm_simulator.config.loader import load_config
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.engine.simulator import Simulator
from llm_simulator.testing import start_simulator
from tests.adapters.test_recorded import otlp, span
from tests.adapters.upstream import serving

LENGTHS = (30, 35, 40, 45, 50)


def production(calls: int = 40, failed: int = 10) -> bytes:
    """Last week's gpt-4o traffic: TTFT ~300 ms, 30-50 output tokens, ``failed`` rate-limited calls."""
    spans = [
        span("gpt-4o", i * 50, 900 + 5 * (i % 7), ttft_ms=290 + (i % 5) * 5, out=LENGTHS[i % 5]) for i in range(calls)
    ]
    spans += [
        span(
            "gpt-4o",
            i * 50,
            20,
            status={"code": 2},
            more={"error.type": "RateLimitError", "http.response.status_code": 429},
        )
        for i in range(failed)
    ]
    spans += [span("claude-sonnet-4", 0, 1000, ttft_ms=400, provider="anthropic")]  # too few calls to apply
    return otlp(*spans)


def test_error_types_from_status_and_exception_names() -> None:
    def failed(error: str, status: int | None = None) -> LlmSpan:
        return LlmSpan("openai", "m", "chat", 0, 1.0, error=error, http_status=status)

    assert error_type_of(failed("RateLimitError")) == "rate_limit"
    assert error_type_of(failed("error", 503)) == "unavailable"
    assert error_type_of(failed("529")) == "overloaded"
    assert error_type_of(failed("APITimeoutError")) == "timeout"
    assert error_type_of(failed("SomethingElse")) == "server_error"


def test_summary_and_behaviour() -> None:
    spans = [
        LlmSpan("openai", "gpt-4o", "chat", 0, 1000.0, ttft_ms=300.0 + i, output_tokens=LENGTHS[i % 5])
        for i in range(30)
    ]
    spans += [LlmSpan("openai", "gpt-4o", "chat", 0, 5.0, error="500", http_status=500)] * 10
    (summary,) = summarise(spans)
    view = summary.as_dict()
    assert view["calls"] == 40 and view["error_rate"] == 0.25 and view["error_mix"] == {"server_error": 10}
    assert view["ttft_ms"]["p50"] == pytest.approx(314.5)
    found = behaviour(summary)
    assert found.profile is not None and found.profile.ttft.model_dump()["p50_ms"] == pytest.approx(314.5, rel=0.02)
    assert found.output_tokens is not None and set(found.output_tokens.values_ms) == {float(v) for v in LENGTHS}
    assert found.rule is not None and found.rule.probability == 0.25 and found.rule.error_mix == {"server_error": 10.0}
    assert behaviour(summary, latency=False, errors=False).rule is None


def test_receiver_turns_spans_into_behaviour_served_over_the_sdk() -> None:
    config = {
        "latency": {"enabled": True},
        "chaos": {"enabled": True},
        "adapters": {"observatory": {"enabled": True, "min_calls": 20}},
    }
    with start_simulator(config) as sim:
        traces = f"{sim.url}/v1/traces"
        answer = httpx.post(traces, content=production(), headers={"content-type": "application/json"})
        assert answer.status_code == 200 and answer.json() == {}
        httpx.post(f"{sim.url}/admin/adapters/refresh").raise_for_status()
        view = httpx.get(f"{sim.url}/admin/observatory").json()
        gpt = next(s for s in view["summaries"] if s["model"] == "gpt-4o")
        assert gpt["calls"] == 50 and gpt["error_rate"] == 0.2 and gpt["error_mix"] == {"rate_limit": 10}
        assert view["applied"]["gpt-4o"]["profile"] == "observed-gpt-4o"
        assert "anthropic/claude-sonnet-4" in view["skipped"]
        profiles = httpx.get(f"{sim.url}/admin/profiles").json()["profiles"]
        observed = next(p for p in profiles if p["name"] == "observed-gpt-4o")
        assert observed["origin"] == "adapter" and observed["adapter"] == "observatory"
        assert observed["spec"]["ttft"]["p50_ms"] == pytest.approx(300, rel=0.05)
        client = openai.OpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0)
        outcomes: list[int] = []
        try:
            for i in range(30):
                try:
                    reply = client.chat.completions.create(
                        model="gpt-4o", messages=[{"role": "user", "content": f"q{i}"}], max_tokens=200
                    )
                    assert reply.usage is not None
                    outcomes.append(reply.usage.completion_tokens)
                except openai.RateLimitError:
                    outcomes.append(-429)
        finally:
            client.close()
        lengths = [n for n in outcomes if n > 0]
        assert set(lengths) <= set(LENGTHS) and len(set(lengths)) >= 2  # observed lengths, not the default's
        assert 1 <= outcomes.count(-429) <= 15  # the observed 20 % rate-limit errors (seeded: never 0 or all)
        ready = httpx.get(f"{sim.url}/ready").json()
        assert ready["adapters"]["observatory"] == "ok"
        metrics = httpx.get(f"{sim.url}/metrics").text
        assert "llm_simulator_observatory_spans_received_total 51.0" in metrics
        assert "llm_simulator_observatory_models_applied 1.0" in metrics


def test_receiver_refuses_protobuf_and_malformed_data_but_takes_gzip() -> None:
    with start_simulator({"adapters": {"observatory": {"enabled": True}}}) as sim:
        traces = f"{sim.url}/v1/traces"
        proto = httpx.post(traces, content=b"\x0a\x00", headers={"content-type": "application/x-protobuf"})
        assert proto.status_code == 415 and "http/json" in proto.json()["message"]
        bad = httpx.post(traces, content=b'{"resourceSpans": 3}', headers={"content-type": "application/json"})
        assert bad.status_code == 400 and "resourceSpans list" in bad.json()["message"]
        garbage = httpx.post(traces, content=b"<html>", headers={"content-type": "application/json"})
        assert garbage.status_code == 400 and "invalid JSON" in garbage.json()["message"]
        zipped = httpx.post(
            traces,
            content=gzip.compress(production(calls=3, failed=0)),
            headers={"content-type": "application/json", "content-encoding": "gzip"},
        )
        assert zipped.status_code == 200
        no_llm = httpx.post(traces, content=otlp({**span("x", 0, 1), "attributes": []}))
        assert no_llm.json()["partialSuccess"]["errorMessage"].startswith("no LLM call spans")
        health = httpx.get(f"{sim.url}/admin/adapters").json()["adapters"]["observatory"]
        assert health["receiver"]["spans_received"] == 4 and health["receiver"]["rejected_documents"] == 2


def test_receiver_route_is_absent_unless_enabled() -> None:
    with start_simulator() as sim:
        assert httpx.post(f"{sim.url}/v1/traces", content=production(calls=1)).status_code == 404


def _registry(source: dict[str, Any]) -> tuple[Simulator, AdapterRegistry]:
    config = SimulatorConfig.model_validate(
        {
            "chaos": {"enabled": True},
            "adapters": {
                "observatory": {"enabled": True, "receiver": False, "sources": [source], "min_calls": 5},
                "infra": {"max_retries": 1, "retry_base_delay_s": 0.01, "breaker_failure_threshold": 50},
            },
        }
    )
    sim = Simulator(config)
    return sim, AdapterRegistry(config, sim)


async def test_http_source_up_garbage_down_keeps_the_last_good_spans() -> None:
    with serving(production()) as upstream:
        sim, registry = _registry({"url": upstream.url})
        registry.start()
        try:
            await registry.refresh()
            (adapter,) = registry.adapters
            assert adapter.health()["status"] == "ok" and adapter.health()["models"] == ["gpt-4o"]
            assert sim.model_profiles["gpt-4o"] == "observed-gpt-4o"
            assert [r.name for r in sim.chaos.effective_rules] == ["observed:gpt-4o"]
            for mode in ("garbage", "down"):
                upstream.mode = mode
                await registry.refresh()
                health = adapter.health()
                assert health["status"] == "degraded" and health["sources"][0]["last_error"]
                assert health["models"] == ["gpt-4o"]  # the last good spans still apply
                assert sim.model_profiles["gpt-4o"] == "observed-gpt-4o"
            assert registry.ready_details()["observatory"] == "degraded"
            upstream.mode = "ok"
            await registry.refresh()
            assert adapter.health()["status"] == "ok"
        finally:
            await registry.aclose()


async def test_file_source_empty_then_filled(tmp_path: Path) -> None:
    traces = tmp_path / "traces.json"
    traces.write_bytes(b"")
    sim, registry = _registry({"file": str(traces)})
    registry.start()
    try:
        await registry.refresh()
        (adapter,) = registry.adapters
        assert "empty trace document" in adapter.health()["sources"][0]["last_error"]
        assert sim.model_profiles == {} and sim.chaos.observed == ()
        traces.write_bytes(production(calls=10, failed=0))
        await registry.refresh()
        assert adapter.health()["status"] == "ok" and sim.model_profiles == {"gpt-4o": "observed-gpt-4o"}
        assert sim.chaos.observed == ()  # no errors observed: no rule
    finally:
        await registry.aclose()


def test_relative_source_files_follow_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("adapters:\n  observatory:\n    enabled: true\n    sources: [{file: t.json}]\n")
    config = load_config(tmp_path / "c.yaml")
    assert config.adapters.observatory.sources[0].file == str(tmp_path / "t.json")
