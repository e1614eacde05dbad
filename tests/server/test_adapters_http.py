"""The adapters over a real socket: a profile pulled from a local HTTP upstream times real streams,
and an upstream that goes down changes nothing served but shows in /ready, /admin and /metrics."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import yaml
from prometheus_client.parser import text_string_to_metric_families

from llm_simulator.testing.plugin import SimulatorFactory
from tests.adapters.upstream import serving

TTFT_MS = 300.0


def _document() -> bytes:
    spec = {"ttft": {"type": "fixed", "value_ms": TTFT_MS}, "itl": {"type": "fixed", "value_ms": 2}}
    return yaml.safe_dump({"latency": {"profiles": {"measured": spec}}}).encode()


def _ttft_s(client: openai.OpenAI) -> float:
    start = time.monotonic()
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=4, stream=True
    )
    first: float | None = None
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.monotonic() - start
    assert first is not None
    return first


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_profile_from_an_upstream_times_streams_and_survives_its_outage(
    llm_simulator_factory: SimulatorFactory,
) -> None:
    with serving(_document()) as upstream:
        config: dict[str, Any] = {
            "latency": {"enabled": True},
            "models": {"add": [{"id": "gpt-4o-mini", "latency_profile": "measured"}]},
            "adapters": {
                "latency_profiles": {
                    "enabled": True,
                    "refresh_s": 3600,
                    "timeout_s": 1.0,
                    "sources": [{"profile": "measured", "url": upstream.url, "fallback": "instant"}],
                },
                "infra": {"max_retries": 0},
            },
        }
        handle = llm_simulator_factory(config)
        base = handle.server.url
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # the first fetch runs at start-up, in the background
            ready = httpx.get(base + "/ready").json()
            if ready["adapters"]["status"] == "ok":
                break
            time.sleep(0.05)
        assert ready == {"ready": True, "adapters": {"status": "ok", "latency_profiles": "ok"}}
        profiles = {p["name"]: p for p in httpx.get(base + "/admin/profiles").json()["profiles"]}
        assert profiles["measured"]["origin"] == "adapter"
        assert profiles["measured"]["url"] == upstream.url
        assert profiles["measured"]["fetched_at"] > 0
        assert profiles["standard"]["origin"] == "built-in"

        client = openai.OpenAI(base_url=handle.openai_base_url, api_key="k", max_retries=0)
        assert 0.25 <= _ttft_s(client) <= 5.0  # the upstream's 300 ms, not the fallback's 0

        upstream.mode = "down"
        state = httpx.post(base + "/admin/adapters/refresh").json()
        source = state["adapters"]["latency_profiles"]["sources"][0]
        assert (source["status"], source["serving"]) == ("degraded", "last_good")
        assert "HTTP 503" in source["last_error"]
        ready = httpx.get(base + "/ready")
        assert ready.status_code == 200  # a failing upstream never makes the instance unready
        assert ready.json()["adapters"] == {"status": "degraded", "latency_profiles": "degraded"}
        assert 0.25 <= _ttft_s(client) <= 5.0  # still the last good profile

        metrics = _samples(httpx.get(base + "/metrics").text)
        labels = (("adapter", "latency_profiles"), ("upstream", upstream.url))
        assert metrics[("llm_simulator_adapter_up", labels)] == 0.0
        assert metrics[("llm_simulator_adapter_loads_total", (*labels[:1], ("outcome", "failed"), labels[1]))] >= 1
        assert metrics[("llm_simulator_adapter_loads_total", (*labels[:1], ("outcome", "ok"), labels[1]))] == 1
        assert metrics[("llm_simulator_infra_cache_misses_total", ())] >= 2
        breaker = f"latency_profiles:{upstream.url}"
        assert metrics[("llm_simulator_infra_breaker_state", (("state", "closed"), ("upstream", breaker)))] == 1.0


def test_without_adapters_nothing_changes(llm_simulator_factory: SimulatorFactory) -> None:
    handle = llm_simulator_factory({})
    base = handle.server.url
    assert httpx.get(base + "/ready").json() == {"ready": True}
    assert httpx.get(base + "/admin/adapters").json()["status"] == "disabled"
    assert "llm_simulator_adapter_up" not in httpx.get(base + "/metrics").text
    origins = {p["origin"] for p in httpx.get(base + "/admin/profiles").json()["profiles"]}
    assert origins == {"built-in"}
