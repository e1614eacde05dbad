"""The per-API prompt-caching rules, without a server: minimums, steps, breakpoints, ttl."""

from __future__ import annotations

import pytest

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.types import Endpoint, GenerationPlan, GenerationRequest
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.anthropic.caching import (
    CachePrefix,
    CacheReport,
    cache_prefix,
    engine_cacheable,
    minimum_cacheable,
)
from llm_simulator.providers.caching import gemini_cached_tokens, gemini_minimum, openai_cached_tokens


def _plan(prompt_tokens: int, cached: int) -> GenerationPlan:
    request = GenerationRequest(model="m", endpoint=Endpoint.CHAT, messages=(), prompt_tokens=prompt_tokens)
    plan = GenerationPlan(request, [], "fp")
    plan.cached_tokens = cached
    return plan


@pytest.mark.parametrize(
    ("cached", "reported"), [(0, 0), (1000, 0), (1023, 0), (1024, 1024), (1151, 1024), (1152, 1152), (5599, 5504)]
)
def test_openai_reports_hits_from_1024_in_steps_of_128(cached: int, reported: int) -> None:
    assert openai_cached_tokens(cached) == reported


def test_gemini_minimums_per_family() -> None:
    assert gemini_minimum("gemini-2.5-flash") == 1024
    assert gemini_minimum("gemini-2.5-flash-lite") == 2048
    assert gemini_minimum("gemini-2.5-pro") == 2048
    assert gemini_minimum("gemini-2.0-flash") is None
    assert gemini_cached_tokens("gemini-2.5-pro", 2000) == 0
    assert gemini_cached_tokens("gemini-2.5-flash", 2000) == 2000


def test_anthropic_minimums() -> None:
    assert minimum_cacheable("claude-sonnet-4-5") == 1024
    assert minimum_cacheable("claude-3-5-haiku-20241022") == 2048
    assert minimum_cacheable("claude-haiku-4-5-20251001") == 4096


def test_report_splits_read_creation_and_ttl() -> None:
    prefix = CachePrefix(tools_tokens=400, message_tokens=3000, one_hour_end=1400, marked=True)
    report = CacheReport(prefix, block_size=16, minimum=1024)
    assert engine_cacheable(report) == 3000
    # Nothing cached: the whole prefix is written, the first 1400 tokens with the 1-hour ttl.
    assert report.counts(_plan(3500, 0)) == (0, 2000, 1400)
    # Every full block cached: the whole prefix (tools included) is read.
    assert report.counts(_plan(3500, 2992)) == (3400, 0, 0)
    # Part of it cached (an earlier, shorter prefix): the tools ride on the hit.
    assert report.counts(_plan(3500, 1600)) == (2000, 1400, 0)
    # No prefix cache serving the model: zeros whatever the plan says.
    assert CacheReport(prefix, block_size=0).counts(_plan(3500, 2992)) == (0, 0, 0)


def test_report_below_the_minimum_caches_nothing() -> None:
    report = CacheReport(CachePrefix(0, 900, 0, marked=True), block_size=16, minimum=1024)
    assert engine_cacheable(report) == 0
    assert report.counts(_plan(1000, 896)) == (0, 0, 0)


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(SimulatorConfig())


def test_breakpoints_are_measured_as_the_engine_hashes(sim: Simulator) -> None:
    system = [
        {"type": "text", "text": "alpha beta gamma"},
        {"type": "text", "text": "delta", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
    ]
    body = {"system": system, "messages": [{"role": "user", "content": "hello there"}]}
    prefix = cache_prefix(sim, body, tools_tokens=50)
    system_tokens = sim.count_tokens("alpha beta gamma\ndelta") + 4
    assert prefix == CachePrefix(50, system_tokens, 50 + system_tokens, marked=True)
    # The top-level cache_control marks the end of the last message.
    whole = cache_prefix(sim, {**body, "cache_control": {"type": "ephemeral"}}, tools_tokens=0)
    assert whole.message_tokens == system_tokens + sim.count_tokens("hello there") + 4
    assert cache_prefix(sim, {"messages": [{"role": "user", "content": "hi"}]}, 10).total == 0


def test_malformed_cache_control_is_refused(sim: Simulator) -> None:
    body = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x", "cache_control": {"type": "lasting"}}]}]
    }
    with pytest.raises(SimulatorError, match="ephemeral"):
        cache_prefix(sim, body, 0)
