"""The latency-profiles adapter against a real local HTTP upstream and a file: up, down, slow, garbage.

A failing upstream never changes what is served beyond keeping the last good data (or the
fallback before any), and it shows: the source's status, its counters and the breaker.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_simulator.adapters import AdapterKind, AdapterRegistry, AdapterUnavailable, load_kind
from llm_simulator.adapters.latency.adapter import parse_profile_document
from llm_simulator.adapters.upstream import UpstreamDataError
from llm_simulator.config.loader import ConfigError, load_config
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.engine.simulator import Simulator
from tests.adapters.upstream import serving

SAMPLES = Path(__file__).parent / "samples"


def profile_doc(ttft_ms: float) -> bytes:
    """What ``profile fit`` writes: a config document with one profile."""
    spec = {"ttft": {"type": "fixed", "value_ms": ttft_ms}, "itl": {"type": "fixed", "value_ms": 5}}
    return yaml.safe_dump({"latency": {"profiles": {"measured": spec}}}).encode()


def make(source: dict[str, Any], retry_s: float = 30.0, **infra: Any) -> tuple[Simulator, AdapterRegistry]:
    settings = {"max_retries": 1, "retry_base_delay_s": 0.01, "breaker_failure_threshold": 50, **infra}
    config = SimulatorConfig.model_validate(
        {
            "adapters": {
                "latency_profiles": {
                    "enabled": True,
                    "refresh_s": 3600,
                    "timeout_s": 0.3,
                    "retry_s": retry_s,
                    "sources": [{"profile": "measured", "fallback": "fast", **source}],
                },
                "infra": settings,
            },
            "models": {"add": [{"id": "gpt-4o", "latency_profile": "measured"}]},
        }
    )
    sim = Simulator(config)
    return sim, AdapterRegistry(config, sim)


def ttft_of(sim: Simulator) -> float:
    return sim.profiles["measured"].ttft(random.Random(0))


def source_health(registry: AdapterRegistry) -> dict[str, Any]:
    sources: list[dict[str, Any]] = registry.snapshot()["adapters"]["latency_profiles"]["sources"]
    return sources[0]


async def test_up_down_garbage_slow_and_back() -> None:
    with serving(profile_doc(123.0)) as upstream:
        sim, registry = make({"url": upstream.url})
        assert ttft_of(sim) != 123.0  # the fallback (fast) before any fetch
        registry.start()
        try:
            await registry.refresh()
            assert ttft_of(sim) == 123.0
            health = source_health(registry)
            assert (health["status"], health["serving"], health["breaker"]) == ("ok", "upstream", "closed")
            [row] = [r for r in registry.profiles() if r["name"] == "measured"]
            assert row["origin"] == "adapter" and row["url"] == upstream.url and row["fetched_at"] is not None
            assert row["obtained"] == "document"

            # Within the TTL the cache answers: no request reaches the upstream.
            hits = upstream.hits
            await registry.refresh(force=False)
            assert upstream.hits == hits and registry.infra.cache_stats().hits >= 1

            upstream.mode = "down"
            await registry.refresh()
            assert ttft_of(sim) == 123.0  # last good data
            health = source_health(registry)
            assert (health["status"], health["serving"]) == ("degraded", "last_good")
            assert "HTTP 503" in health["last_error"]
            assert registry.counters.retries >= 1  # retried once, then gave up
            assert registry.ready_details() == {"status": "degraded", "latency_profiles": "degraded"}

            upstream.mode = "garbage"
            await registry.refresh()
            assert ttft_of(sim) == 123.0
            assert "neither a profile document nor a measurement" in source_health(registry)["last_error"]

            upstream.mode = "slow"
            await registry.refresh()
            assert ttft_of(sim) == 123.0
            assert "no answer" in source_health(registry)["last_error"]

            upstream.mode, upstream.body = "ok", profile_doc(77.0)
            await registry.refresh()
            assert ttft_of(sim) == 77.0
            assert source_health(registry)["status"] == "ok"
            assert source_health(registry)["consecutive_failures"] == 0
        finally:
            await registry.aclose()


async def test_an_open_breaker_stops_calling_the_upstream() -> None:
    with serving(profile_doc(50.0)) as upstream:
        upstream.mode = "down"
        sim, registry = make({"url": upstream.url}, breaker_failure_threshold=2, breaker_recovery_s=0.3, max_retries=0)
        registry.start()
        try:
            for _ in range(2):
                await registry.refresh()
            assert source_health(registry)["breaker"] == "open"
            hits = upstream.hits
            await registry.refresh()
            assert upstream.hits == hits  # refused without a call
            assert "circuit open" in source_health(registry)["last_error"]
            upstream.mode = "ok"
            await asyncio.sleep(0.35)  # the recovery timeout: one trial call is let through
            await registry.refresh()
            assert ttft_of(sim) == 50.0
            assert source_health(registry)["breaker"] == "closed"
            transitions = registry.counters.transitions
            assert transitions[(f"latency_profiles:{upstream.url}", "open")] == 1
        finally:
            await registry.aclose()


async def test_down_from_the_start_serves_the_fallback() -> None:
    with serving(b"") as upstream:
        upstream.mode = "down"
        sim, registry = make({"url": upstream.url})
        fast_ttft = sim.profiles["fast"].ttft(random.Random(0))
        registry.start()
        try:
            await registry.refresh()
            assert ttft_of(sim) == fast_ttft
            health = source_health(registry)
            assert (health["status"], health["serving"]) == ("degraded", "fallback")
            [row] = [r for r in registry.profiles() if r["name"] == "measured"]
            assert row["serving"] == "fallback" and row["spec"] is None and row["fallback"] == "fast"
        finally:
            await registry.aclose()


async def test_the_refresh_loop_retries_a_failing_source_sooner() -> None:
    with serving(profile_doc(61.0)) as upstream:
        upstream.mode = "down"
        sim, registry = make({"url": upstream.url}, retry_s=0.1, max_retries=0)
        registry.start()  # loads in the background, then every refresh_s (an hour) or retry_s
        try:
            for _ in range(100):
                if source_health(registry)["status"] == "degraded":
                    break
                await asyncio.sleep(0.05)
            assert source_health(registry)["serving"] == "fallback"
            upstream.mode = "ok"
            for _ in range(100):
                if ttft_of(sim) == 61.0:
                    break
                await asyncio.sleep(0.05)
            assert ttft_of(sim) == 61.0 and source_health(registry)["status"] == "ok"
        finally:
            await registry.aclose()


async def test_a_measurement_upstream_is_fitted() -> None:
    with serving((SAMPLES / "llmperf_individual_responses.json").read_bytes()) as upstream:
        _, registry = make({"url": upstream.url})
        registry.start()
        try:
            await registry.refresh()
            [row] = [r for r in registry.profiles() if r["name"] == "measured"]
            assert row["obtained"] == "fitted"
            assert row["spec"]["ttft"]["type"] == "mixture"  # the sample's one 2.9 s request
        finally:
            await registry.aclose()


async def test_file_source_and_its_removal(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_bytes(profile_doc(42.0))
    sim, registry = make({"file": str(path)})
    registry.start()
    try:
        await registry.refresh()
        assert ttft_of(sim) == 42.0
        [row] = [r for r in registry.profiles() if r["name"] == "measured"]
        assert row["file"] == str(path)
        path.unlink()
        await registry.refresh()
        assert ttft_of(sim) == 42.0
        assert "cannot read" in source_health(registry)["last_error"]
    finally:
        await registry.aclose()


def test_profile_document_shapes() -> None:
    bare = b"ttft: {type: fixed, value_ms: 9}\nitl: {type: fixed, value_ms: 1}\n"
    assert parse_profile_document(bare, "u", "any")[0].ttft.model_dump()["value_ms"] == 9
    two = b"profiles: {a: {ttft: {type: fixed, value_ms: 1}, itl: {type: fixed, value_ms: 1}}, b: {}}"
    with pytest.raises(UpstreamDataError, match="profile 'x' is not in the document"):
        parse_profile_document(two, "u", "x")
    invalid = b"profiles: {x: {ttft: {type: fixed, value_ms: -1}, itl: {type: fixed, value_ms: 1}}}"
    with pytest.raises(UpstreamDataError, match=r"u: profile 'x': .*value_ms"):
        parse_profile_document(invalid, "u", "x")


def test_missing_optional_dependency_names_the_extra() -> None:
    kind = AdapterKind("lineage", "llm_simulator.adapters.registry", "AdapterRegistry", "graph", ("no_such_module_x",))
    with pytest.raises(
        AdapterUnavailable, match=r"adapters\.lineage: needs 'no_such_module_x'.*llm-simulator\[graph\]"
    ):
        load_kind(kind)
    assert isinstance(AdapterUnavailable("x"), ConfigError)  # reported like any config error


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"enabled": True}, "enabled without sources"),
        ({"sources": [{"profile": "m", "url": "http://a", "file": "b"}]}, "exactly one of url and file"),
        ({"sources": [{"profile": "m"}]}, "exactly one of url and file"),
        ({"sources": [{"profile": "m", "url": "ftp://a"}]}, "url"),
        (
            {"sources": [{"profile": "m", "url": "http://a"}, {"profile": "m", "file": "b"}]},
            "provided by more than one source",
        ),
    ],
)
def test_config_errors_name_the_key(section: dict[str, Any], problem: str, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"adapters": {"latency_profiles": section}}))
    with pytest.raises(ConfigError, match=r"adapters\.latency_profiles") as caught:
        load_config(path)
    assert problem in str(caught.value)


def test_unknown_fallback_and_relative_files(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    source = {"profile": "m", "file": "data/p.yaml", "fallback": "nope"}
    path.write_text(yaml.safe_dump({"adapters": {"latency_profiles": {"enabled": True, "sources": [source]}}}))
    config = load_config(path)
    assert config.adapters.latency_profiles.sources[0].file == str(tmp_path / "data/p.yaml")
    with pytest.raises(ConfigError, match="unknown fallback profile 'nope'"):
        Simulator(config)
