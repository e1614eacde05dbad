"""Per-worker aggregates: folding records in, the admin snapshot, and merging workers."""

from __future__ import annotations

import os
from pathlib import Path

from llm_simulator.core.record import RequestRecord
from llm_simulator.telemetry.multiprocess import SharedStats
from llm_simulator.telemetry.stats import NO_MODEL, Stats


def _record(
    status: int = 200,
    *,
    model: str = "gpt-4o",
    stream: bool = True,
    tokens: int = 5,
    broken: bool = False,
    error_type: str = "",
) -> RequestRecord:
    rec = RequestRecord("req_1", "POST", "/v1/chat/completions", started=100.0, started_wall=1_700_000_000.0)
    rec.provider, rec.endpoint, rec.model = "openai", "chat", model
    rec.prompt_tokens, rec.completion_tokens = 12, tokens
    rec.status, rec.broken, rec.error_type = status, broken, error_type
    if stream:
        for step in range(tokens):
            rec.token_released(100.2 + step * 0.02)
    return rec


def _fold(stats: Stats, rec: RequestRecord, duration_s: float, cost: float, key: str) -> None:
    """Fold ``rec`` in with a price making its cost ``cost`` and ``key`` as its shown key."""
    rec.api_key = key

    def price(model: str) -> tuple[float, float]:
        # Everything priced on output tokens, so cost = output × price / 10⁶.
        output = rec.completion_tokens if rec.status < 400 and not rec.broken else 0
        return (0.0, cost * 1_000_000 / output if output else 0.0)

    stats.record(rec, duration_s, price, lambda raw: raw)


def test_a_streamed_request_feeds_ttft_itl_tokens_and_cost() -> None:
    stats = Stats()
    _fold(stats, _record(), 0.3, 0.001, "sk-***p#0011")
    totals = stats.models[("openai", "gpt-4o")]
    assert (totals.requests, totals.errors, totals.input_tokens, totals.output_tokens) == (1, 0, 12, 5)
    assert totals.ttft.count == 1
    assert abs(totals.ttft.sum - 0.2) < 1e-9
    assert totals.itl.count == 4  # five tokens, four gaps
    assert abs(totals.itl.sum - 0.08) < 1e-9
    assert stats.requests[("openai", "gpt-4o", "chat", 200)] == 1
    assert stats.keys[("openai", "gpt-4o", "sk-***p#0011")].requests == 1


def test_failures_count_errors_and_produce_no_tokens() -> None:
    stats = Stats()
    _fold(stats, _record(429, stream=False, error_type="rate_limit"), 0.01, 0.0, "")
    totals = stats.models[("openai", "gpt-4o")]
    assert (totals.errors, totals.input_tokens, totals.output_tokens) == (1, 0, 0)
    assert stats.errors[("openai", "rate_limit")] == 1
    assert totals.ttft.count == 0


def test_a_broken_stream_counts_the_tokens_it_released() -> None:
    rec = _record(tokens=3, broken=True)
    rec.completion_tokens = 50
    output, _, _ = Stats().record(rec, 0.1, lambda model: (0.0, 0.0), lambda raw: raw)
    assert output == 3


def test_cost_is_priced_per_million_tokens_and_the_key_shown_as_named() -> None:
    rec = _record(tokens=10)
    rec.api_key = "sk-raw-key"
    output, cost, shown = Stats().record(rec, 0.1, lambda model: (2.0, 8.0), lambda raw: "shown#1")
    # 12 prompt tokens × $2/M + 10 output tokens × $8/M
    assert (output, shown) == (10, "shown#1")
    assert abs(cost - (12 * 2.0 + 10 * 8.0) / 1e6) < 1e-15


def test_the_fast_path_starts_over_after_a_reset() -> None:
    stats = Stats()
    stats.record(_record(), 0.1, lambda model: (0.0, 0.0), lambda raw: raw)
    stats.reset()
    stats.record(_record(), 0.1, lambda model: (0.0, 0.0), lambda raw: raw)
    assert stats.models[("openai", "gpt-4o")].requests == 1
    assert stats.requests == {("openai", "gpt-4o", "chat", 200): 1}


def test_requests_without_a_model_are_counted_without_model_totals() -> None:
    stats = Stats()
    rec = RequestRecord("req_2", "GET", "/health", 1.0, 1.0)
    rec.provider, rec.endpoint, rec.status = "openai", "health", 200
    _fold(stats, rec, 0.001, 0.0, "")
    assert stats.requests[("openai", NO_MODEL, "health", 200)] == 1
    assert stats.models == {}


def test_causes_are_counted_by_label() -> None:
    stats = Stats()
    rec = _record(503, stream=False, error_type="overloaded")
    rec.chaos = "overloaded"
    _fold(stats, rec, 0.01, 0.0, "")
    limited = _record(429, stream=False, error_type="rate_limit")
    limited.rate_limited = "tier-1"
    _fold(stats, limited, 0.01, 0.0, "")
    denied = _record(401, stream=False, model="", error_type="authentication")
    denied.auth_failure = "invalid_key"
    _fold(stats, denied, 0.01, 0.0, "")
    snap = stats.snapshot()
    assert snap["chaos_injections"] == {"overloaded": 1}
    assert snap["rate_limit_rejections"] == {"tier-1": 1}
    assert snap["auth_failures"] == {"invalid_key": 1}


def test_snapshot_keeps_the_endpoint_view_and_adds_model_rows() -> None:
    stats = Stats()
    _fold(stats, _record(), 0.3, 0.002, "")
    snap = stats.snapshot()
    assert snap["requests"] == [{"provider": "openai", "endpoint": "chat", "status": 200, "count": 1}]
    assert snap["duration_ms"]["chat"]["count"] == 1
    (row,) = snap["models"]
    assert row["model"] == "gpt-4o"
    assert row["cost_dollars"] == 0.002
    assert row["ttft_ms"]["count"] == 1
    assert 150 <= row["ttft_ms"]["p50"] <= 200


def test_merging_two_workers_adds_everything() -> None:
    a, b = Stats(), Stats()
    _fold(a, _record(), 0.3, 0.001, "k1")
    _fold(b, _record(), 0.4, 0.002, "k1")
    _fold(b, _record(500, stream=False, error_type="server_error"), 0.1, 0.0, "")
    a.active_streams, b.active_streams = 2, 3
    total = Stats()
    total.merge_data(a.to_data())
    total.merge_data(b.to_data())
    assert total.requests[("openai", "gpt-4o", "chat", 200)] == 2
    assert total.requests[("openai", "gpt-4o", "chat", 500)] == 1
    totals = total.models[("openai", "gpt-4o")]
    assert (totals.requests, totals.errors, totals.itl.count) == (3, 1, 8)
    assert abs(totals.cost - 0.003) < 1e-12
    assert total.keys[("openai", "gpt-4o", "k1")].requests == 2
    assert total.active_streams == 5


def test_reset_keeps_in_flight_gauges() -> None:
    stats = Stats()
    stats.active_requests = 4
    _fold(stats, _record(), 0.3, 0.0, "")
    stats.reset()
    assert stats.requests == {}
    assert stats.active_requests == 4


def test_shared_stats_merge_other_workers_files(tmp_path: Path) -> None:
    own, other = Stats(), Stats()
    _fold(own, _record(), 0.3, 0.0, "")
    _fold(other, _record(), 0.3, 0.0, "")
    _fold(other, _record(), 0.3, 0.0, "")
    other.active_requests = 7
    me = SharedStats(str(tmp_path), pid=os.getpid())
    them = SharedStats(str(tmp_path), pid=os.getppid())  # a live process
    them.write(other)
    merged = me.merged(own)
    assert merged.requests[("openai", "gpt-4o", "chat", 200)] == 3
    assert merged.active_requests == 7


def test_a_dead_workers_counters_stay_but_its_gauges_go(tmp_path: Path) -> None:
    dead = Stats()
    _fold(dead, _record(), 0.3, 0.0, "")
    dead.active_streams = 9
    SharedStats(str(tmp_path), pid=2**22 + 12345).write(dead)  # above pid_max: no such process
    merged = SharedStats(str(tmp_path), pid=os.getpid()).merged(Stats())
    assert merged.requests[("openai", "gpt-4o", "chat", 200)] == 1
    assert merged.active_streams == 0


def test_a_worker_that_died_is_claimed_once_and_counted_as_a_restart(tmp_path: Path) -> None:
    dead = Stats()
    _fold(dead, _record(), 0.3, 0.0, "")
    SharedStats(str(tmp_path), pid=2**22 + 4321).write(dead)  # killed: no clean mark
    SharedStats(str(tmp_path), pid=2**22 + 4322).write(Stats(), clean=True)  # shut down (a reload)
    SharedStats(str(tmp_path), pid=os.getppid()).write(Stats())  # alive
    replacement = SharedStats(str(tmp_path), pid=os.getpid())
    survivor = SharedStats(str(tmp_path), pid=os.getpid() + 1)
    assert replacement.claim_lost() == [2**22 + 4321]
    assert survivor.claim_lost() == []  # one worker claims (and logs) each death
    assert replacement.claim_lost() == []
    for shared in (replacement, survivor):
        merged = shared.merged(Stats())
        assert merged.worker_restarts == 1
        assert merged.requests[("openai", "gpt-4o", "chat", 200)] == 1  # its counters still count
        assert merged.snapshot()["worker_restarts"] == 1
    replacement.clear()  # a new run in the same directory starts from zero
    assert replacement.restarts() == 0
    assert not list(tmp_path.glob("lost-*.json"))


def test_unreadable_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "worker-99.json").write_text("{half a json")
    merged = SharedStats(str(tmp_path), pid=os.getpid()).merged(Stats())
    assert merged.requests == {}


def test_a_reset_clears_workers_that_have_not_caught_up(tmp_path: Path) -> None:
    other = Stats()
    _fold(other, _record(), 0.3, 0.0, "")
    them = SharedStats(str(tmp_path), pid=os.getppid())
    them.write(other)
    me = SharedStats(str(tmp_path), pid=os.getpid())
    fresh = Stats()
    me.request_reset(fresh.since)
    # The other worker's file predates the reset: it counts as empty until that worker resets.
    assert me.merged(fresh).requests == {}
    assert them.reset_requested_at() == fresh.since
