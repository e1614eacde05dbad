"""The router: rules with AND-ed conditions and an action, by priority, applied before a request is
served — seen through the official SDKs on a real socket, with the decision in the response header,
the request log, the metrics; rules from config, the admin API and a rules URL (up, garbage, down)."""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
import yaml
from google import genai
from google.genai import types as genai_types

from llm_simulator.adapters import AdapterRegistry
from llm_simulator.adapters.router.rules import Facts, client_bucket, decide, in_hours, matches, ordered
from llm_simulator.config.router import Conditions, RouteRule
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.engine.simulator import Simulator
from llm_simulator.testing import SimulatorHandle, start_simulator
from tests.adapters.upstream import Mode, serving

RULES: list[dict[str, Any]] = yaml.safe_load("""
- {name: block-o1, priority: 1, when: {model: o1},
   action: {type: reject, error_type: permission, message: o1 is not for you}}
- {name: tag, priority: 2, when: {provider: openai}, action: {type: continue}}
- {name: short, priority: 3, when: {headers: {x-team: search*}}, action: {type: transform, params: {max_tokens: 2}}}
- {name: gpt4-to-mini, priority: 10, when: {model: gpt-4-}, action: {type: route, model: gpt-4o-mini}}
- {name: canary, priority: 20, when: {model: gpt-4o, percent: 50, stream: false},
   action: {type: route, model: gpt-4.1-mini}}
- {name: claude-limit, priority: 30, when: {provider: anthropic},
   action: {type: rate_limit, requests_per_minute: 6, burst: 2}}
- {name: gemini-pool, priority: 40, when: {model: gemini-1.5},
   action: {type: pool, pool: [{model: gemini-2.0-flash, weight: 3}, {model: gemini-2.5-flash, weight: 1}]}}
- {name: "off", priority: 0, enabled: false, action: {type: reject}}
""")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with start_simulator({"adapters": {"router": {"enabled": True, "rules": RULES}}}) as handle:
        yield handle


def chat(handle: SimulatorHandle, model: str, client: str = "c1", **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 20, **extra}
    return httpx.post(f"{handle.openai_base_url}/chat/completions", json=body, headers={"x-client-id": client})


def outside_canary() -> str:
    """A client id the 50 % canary rule leaves alone."""
    return next(c for c in (f"u{i}" for i in range(100)) if client_bucket("canary", c) >= 50)


def test_route_rewrites_the_model_and_shows_the_decision(sim: SimulatorHandle) -> None:
    client = openai.OpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0)
    try:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4-turbo", messages=[{"role": "user", "content": "hi"}], max_tokens=5
        )
    finally:
        client.close()
    assert raw.parse().model == "gpt-4o-mini"
    assert raw.headers["x-simulator-route"] == "rule=gpt4-to-mini; action=route; model=gpt-4o-mini; passed=tag"
    logged = sim.requests(path="/v1/chat/completions")[-1]
    assert logged["route"]["rule"] == "gpt4-to-mini" and "model~gpt-4-" in logged["route"]["reason"]
    assert logged["route"]["passed"] == [{"rule": "tag", "action": "continue"}]
    metrics = httpx.get(f"{sim.url}/metrics").text
    assert 'llm_simulator_router_decisions_total{action="route",rule="gpt4-to-mini"}' in metrics


def test_percent_split_is_stable_per_client(sim: SimulatorHandle) -> None:
    clients = [f"user-{i}" for i in range(16)]
    first = {c: chat(sim, "gpt-4o", c).json()["model"] for c in clients}
    again = {c: chat(sim, "gpt-4o", c).json()["model"] for c in clients}
    assert first == again
    expected = {c: "gpt-4.1-mini" if client_bucket("canary", c) < 50 else "gpt-4o" for c in clients}
    assert first == expected and len(set(first.values())) == 2
    streamed = chat(sim, "gpt-4o", next(c for c, m in first.items() if m == "gpt-4.1-mini"), stream=True)
    assert '"model":"gpt-4o"' in streamed.text  # stream=false condition: streams are not in the canary


def test_transform_sets_parameters_for_matching_headers(sim: SimulatorHandle) -> None:
    answer = httpx.post(
        f"{sim.openai_base_url}/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "write a lot"}], "max_tokens": 200},
        headers={"x-team": "search-ranking", "x-client-id": outside_canary()},
    )
    assert answer.json()["usage"]["completion_tokens"] <= 2
    assert answer.headers["x-simulator-route"] == "rule=short; action=transform; passed=tag,short"


def test_reject_is_the_providers_own_error(sim: SimulatorHandle) -> None:
    client = openai.OpenAI(base_url=sim.openai_base_url, api_key="k", max_retries=0)
    try:
        with pytest.raises(openai.PermissionDeniedError, match="o1 is not for you") as caught:
            client.chat.completions.create(model="o1", messages=[{"role": "user", "content": "hi"}])
    finally:
        client.close()
    assert caught.value.response.headers["x-simulator-route"].startswith("rule=block-o1; action=reject")


def test_rate_limit_rule_refuses_past_its_burst_with_a_retry_hint(sim: SimulatorHandle) -> None:
    client = anthropic.Anthropic(base_url=sim.url, api_key="k", max_retries=0)
    try:
        for _ in range(2):
            client.messages.create(
                model="claude-3-5-haiku-latest", max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )
        with pytest.raises(anthropic.RateLimitError, match="claude-limit") as caught:
            client.messages.create(
                model="claude-3-5-haiku-latest", max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )
    finally:
        client.close()
    assert float(caught.value.response.headers["retry-after"]) > 0


def test_weighted_pool_over_gemini_path_models(sim: SimulatorHandle) -> None:
    client = genai.Client(api_key="k", http_options=genai_types.HttpOptions(base_url=sim.url))
    versions = [client.models.generate_content(model="gemini-1.5-pro", contents="hi").model_version for _ in range(24)]
    assert set(versions) == {"gemini-2.0-flash", "gemini-2.5-flash"}
    assert versions.count("gemini-2.0-flash") > versions.count("gemini-2.5-flash")


def test_admin_api_replaces_rules_and_refuses_bad_ones(sim: SimulatorHandle) -> None:
    admin = f"{sim.url}/admin/router/rules"
    bad = httpx.put(admin, json={"rules": [{"name": "x", "action": {"type": "route"}}]})
    assert bad.status_code == 400 and "route needs model" in bad.json()["error"]["message"]
    rule = {
        "name": "night",
        "priority": 5,
        "when": {"model": "gpt-4o-mini"},
        "action": {"type": "route", "model": "gpt-4.1"},
    }
    view = httpx.put(admin, json=[rule]).json()
    assert [r["name"] for r in view["rules"]][:4] == ["block-o1", "tag", "short", "night"]
    assert next(r for r in view["rules"] if r["name"] == "night")["origin"] == "admin"
    outside = outside_canary()
    assert chat(sim, "gpt-4o-mini", outside).json()["model"] == "gpt-4.1"
    httpx.delete(admin).raise_for_status()
    assert chat(sim, "gpt-4o-mini", outside).json()["model"] == "gpt-4o-mini"


def _facts(**overrides: Any) -> Facts:
    base: dict[str, Any] = {
        "model": "gpt-4o", "provider": "openai", "headers": {}, "stream": False, "client_id": "a",
        "wall": datetime.datetime(2026, 12, 5, 23, 30, tzinfo=datetime.UTC).timestamp(), "count_prompt": lambda: 500,
    }  # fmt: skip
    return Facts(**(base | overrides))


def test_conditions_hours_and_prompt_tokens() -> None:
    assert in_hours(23, 22, 6) and in_hours(3, 22, 6) and not in_hours(12, 22, 6) and in_hours(9, 9, 17)
    night = Conditions.model_validate(
        {"hours_utc": {"start": 22, "end": 6}, "prompt_tokens": {"min": 100, "max": 1000}}
    )
    assert matches(night, "r", _facts()) == "hour 23 in [22,6), prompt 500 tokens in [100,1000]"
    assert matches(night, "r", _facts(count_prompt=lambda: 2000)) is None
    assert matches(Conditions(), "r", _facts()) == ""
    assert matches(Conditions(provider="anthropic"), "r", _facts()) is None


def test_priority_lowest_wins_and_no_match_decides_nothing() -> None:
    rules = ordered(
        [
            RouteRule.model_validate({"name": "b", "priority": 9, "action": {"type": "route", "model": "b"}}),
            RouteRule.model_validate({"name": "a", "priority": 1, "action": {"type": "route", "model": "a"}}),
        ]
    )
    assert decide(rules, _facts(), random.Random(0), lambda r: True).model == "a"
    assert decide([], _facts(), random.Random(0), lambda r: True).rule is None


def _registry(url: str) -> tuple[Simulator, AdapterRegistry]:
    config = SimulatorConfig.model_validate(
        {
            "adapters": {
                "router": {"enabled": True, "sources": [{"url": url}]},
                "infra": {"max_retries": 1, "retry_base_delay_s": 0.01, "breaker_failure_threshold": 50},
            }
        }
    )
    sim = Simulator(config)
    return sim, AdapterRegistry(config, sim)


async def test_rules_url_up_garbage_down_keeps_the_last_good_rules() -> None:
    document = yaml.safe_dump({"rules": [{"name": "remote", "action": {"type": "route", "model": "gpt-4o-mini"}}]})
    with serving(document.encode()) as upstream:
        _, registry = _registry(upstream.url)
        registry.start()
        try:
            await registry.refresh()
            router = registry.get("router")
            assert router is not None and router.health()["rules"] == 1 and router.health()["status"] == "ok"
            modes: list[tuple[Mode, str]] = [("garbage", "expected a list of rules"), ("down", "HTTP 503")]
            for mode, problem in modes:
                upstream.mode = mode
                await registry.refresh()
                health = router.health()
                assert health["status"] == "degraded" and health["rules"] == 1  # the last good rules stay
                assert problem in str(health["sources"][0]["last_error"])
            upstream.mode = "ok"
            await registry.refresh()
            assert router.health()["status"] == "ok"
        finally:
            await registry.aclose()


def test_bad_rules_in_config_are_config_errors() -> None:
    with pytest.raises(ValueError, match="pool needs a non-empty pool"):
        SimulatorConfig.model_validate({"adapters": {"router": {"rules": [{"name": "p", "action": {"type": "pool"}}]}}})
    rule = {"name": "same", "action": {"type": "continue"}}
    with pytest.raises(ValueError, match="used by more than one rule"):
        SimulatorConfig.model_validate({"adapters": {"router": {"rules": [rule, rule]}}})
