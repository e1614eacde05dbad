"""The load shapes on a fake transport: counts, concurrency, Poisson arrivals, stop conditions."""

from __future__ import annotations

import asyncio
import io
import random
import statistics

import httpx
import pytest

from llm_simulator.loadgen.client import RequestSpec
from llm_simulator.loadgen.runner import (
    Counters,
    LoadConfig,
    ProgressBar,
    UnreachableError,
    poisson_arrivals,
    progress_stream,
    run_load,
)

SPEC = RequestSpec(provider="openai", base_url="http://fake", model="m", stream=False)
BODY = {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 5, "total_tokens": 6}}


class FakeServer:
    """An async handler that sleeps ``delay`` per request and tracks concurrency."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self.posts = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(404)
        self.posts += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        return httpx.Response(200, json=BODY)


def test_poisson_mean_gap_is_one_over_rate() -> None:
    rate = 50.0
    arrivals = poisson_arrivals(rate, random.Random(11))
    times = [next(arrivals) for _ in range(20_000)]
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert statistics.fmean(gaps) == pytest.approx(1 / rate, rel=0.03)
    # Exponential gaps: the standard deviation equals the mean.
    assert statistics.stdev(gaps) == pytest.approx(1 / rate, rel=0.05)
    again = poisson_arrivals(rate, random.Random(11))
    assert [next(again) for _ in range(5)] == times[:5]


def test_config_defaults_and_validation() -> None:
    assert LoadConfig().request_limit == 100
    assert LoadConfig(duration=1.0).request_limit is None
    with pytest.raises(ValueError, match="--concurrency"):
        LoadConfig(concurrency=0).validate()
    with pytest.raises(ValueError, match="--rate"):
        LoadConfig(rate=0).validate()


async def test_closed_loop_respects_concurrency_and_count() -> None:
    fake = FakeServer(delay=0.005)
    outcome = await run_load(
        SPEC, LoadConfig(requests=40, concurrency=4, warmup=3), transport=httpx.MockTransport(fake)
    )
    assert len(outcome.results) == 40
    assert fake.posts == 43  # warmup requests are sent but not measured
    assert fake.max_in_flight == 4
    assert all(r.ok and r.output_tokens == 5 for r in outcome.results)
    assert outcome.results == sorted(outcome.results, key=lambda r: r.start)
    assert outcome.overhead.cpu_s > 0
    assert outcome.open_loop is None


async def test_closed_loop_duration_stops_sending() -> None:
    fake = FakeServer(delay=0.01)
    outcome = await run_load(SPEC, LoadConfig(duration=0.2, concurrency=2), transport=httpx.MockTransport(fake))
    assert 10 <= len(outcome.results) <= 45
    assert outcome.duration_s < 0.5


async def test_open_loop_follows_the_seeded_schedule_and_counts_cap_blocks() -> None:
    fake = FakeServer(delay=0.05)
    config = LoadConfig(duration=0.5, rate=100.0, max_in_flight=2, seed=5)
    outcome = await run_load(SPEC, config, transport=httpx.MockTransport(fake))
    arrivals = poisson_arrivals(100.0, random.Random(5))
    expected = sum(1 for _ in iter(lambda: next(arrivals) < 0.5, False))
    info = outcome.open_loop
    assert info is not None
    # 100 req/s against 2 slots × 20 req/s each: most arrivals find the cap full and are late;
    # those still waiting for a slot when the duration runs out are not sent, so the run
    # ends on time instead of working through the backlog.
    assert len(outcome.results) + info.dropped_at_end == expected
    assert info.dropped_at_end > 0
    assert outcome.duration_s < 0.5 + 0.05 + 0.2  # the window, the last response, slack
    assert fake.max_in_flight <= 2
    assert info.blocked_by_cap > 0
    assert info.late > 0
    assert len(info.schedule_lags_s) == len(outcome.results)


async def test_unreachable_url_raises() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(UnreachableError, match="cannot reach"):
        await run_load(SPEC, LoadConfig(requests=1), transport=httpx.MockTransport(refuse))


async def test_progress_bar_writes_carriage_return_lines() -> None:
    out = io.StringIO()
    await run_load(
        SPEC, LoadConfig(requests=5, concurrency=1), transport=httpx.MockTransport(FakeServer()), progress=out
    )
    text = out.getvalue()
    assert text.startswith("\r[")
    assert "5/5 req" in text
    assert text.endswith("\n")


def test_progress_bar_render_and_stream_choice() -> None:
    bar = ProgressBar(io.StringIO(), total=10, duration=None)
    line = bar.render(Counters(done=5, errors=1), elapsed=2.0)
    assert line == "[############............] 5/10 req  2.5 req/s  errors 1  2.0s"
    assert progress_stream(None, io.StringIO()) is None  # not a TTY
    forced = io.StringIO()
    assert progress_stream(True, forced) is forced
    assert progress_stream(False, forced) is None


@pytest.mark.parametrize(
    "config",
    [
        LoadConfig(requests=1, rate=float("inf")),
        LoadConfig(requests=1, rate=float("nan")),
        LoadConfig(duration=float("inf")),
    ],
)
def test_non_finite_rates_and_durations_are_refused(config: LoadConfig) -> None:
    with pytest.raises(ValueError, match="must be"):
        config.validate()
