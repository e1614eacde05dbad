"""Chaos for the simulator itself: the wall clock jumps (NTP step, a VM resumed, a manual change).

Timing, rate limits, quotas, timeouts and caches run on the monotonic clock
(``Clock.now``); the wall clock (``Clock.wall``) only stamps things people read: ``created``
fields, Anthropic's RFC 3339 reset headers, event ``ts``, the request log's ``ts``. A jump is
injected through the ``Clock`` (a real monotonic clock with a wall offset the test moves by a
day either way). What must hold (docs/operations.md, "What the simulator survives"): streams
keep their pace and length, one response keeps one ``created``; rate limits and daily
quotas neither refill nor drain; a request's events keep their order; and with several
workers a stats reset still resets every worker after the clock went back.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import orjson

from llm_simulator.config import load_config
from llm_simulator.engine.simulator import Simulator
from llm_simulator.server.app import SimulatorApp
from llm_simulator.telemetry.hub import Telemetry
from llm_simulator.telemetry.multiprocess import SharedStats
from llm_simulator.telemetry.stats import Stats
from tests.server.asgi_driver import call

DAY = 86_400.0
CHAT_PATH = "/v1/chat/completions"
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:generateContent"
GEMINI = orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})


def chat(**extra: Any) -> bytes:
    """A chat request body."""
    return orjson.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], **extra})


class JumpingClock:
    """The real monotonic clock, and a wall clock the test can step by any amount."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        """Monotonic seconds (never jumps)."""
        return time.monotonic()

    def wall(self) -> float:
        """Unix seconds, moved by the jumps so far."""
        return time.time() + self.offset

    def jump(self, seconds: float) -> None:
        """Step the wall clock by ``seconds`` (negative: back)."""
        self.offset += seconds


def app_on(clock: JumpingClock, **flags: Any) -> SimulatorApp:
    """An in-process app whose simulator runs on ``clock``."""
    config = load_config(flags=flags)
    return SimulatorApp(config, Simulator(config, clock=clock))


def sse_data(body: bytes) -> list[dict[str, Any]]:
    """The JSON payloads of an SSE body (``[DONE]`` left out)."""
    out = []
    for line in body.splitlines():
        if line.startswith(b"data: ") and line != b"data: [DONE]":
            out.append(orjson.loads(line[6:]))
    return out


async def test_a_wall_clock_jump_mid_stream_changes_neither_pace_nor_created() -> None:
    """The wall clock steps back a day, then forward two, while a stream runs: every token
    arrives, the stream takes its usual time, all chunks carry the ``created`` of its start.
    """
    clock = JumpingClock()
    app = app_on(clock, **{"latency.multiplier": 0.05, "seed": 3})
    started = time.monotonic()
    task = asyncio.create_task(call(app, "POST", CHAT_PATH, chat(stream=True, max_tokens=30)))
    await asyncio.sleep(0.02)
    clock.jump(-DAY)
    await asyncio.sleep(0.02)
    clock.jump(2 * DAY)
    reply = await asyncio.wait_for(task, 10)
    elapsed = time.monotonic() - started
    assert reply.status == 200
    chunks = sse_data(reply.body)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert len({c["created"] for c in chunks}) == 1
    assert abs(chunks[0]["created"] - started_wall_guess(started)) < 60  # stamped before the jumps
    assert elapsed < 5  # a jump the timing followed would be a day early or late


def started_wall_guess(monotonic_then: float) -> float:
    """The real wall time at a past monotonic instant."""
    return time.time() - (time.monotonic() - monotonic_then)


async def test_rate_limits_neither_refill_nor_drain_when_the_wall_clock_jumps() -> None:
    """A per-minute budget used up stays used up when the wall clock steps forward a day
    (buckets refill on monotonic time), and is not drained when it steps back; the
    Retry-After stays within the minute; Anthropic's reset header follows the wall clock.
    """
    clock = JumpingClock()
    tier = {"requests_per_minute": 2}
    app = app_on(clock, **{"latency.enabled": False, "rate_limits.enabled": True, "rate_limits.tiers": [tier]})
    headers = {"authorization": "Bearer sk-one"}
    for _ in range(2):
        assert (await call(app, "POST", CHAT_PATH, chat(max_tokens=3), headers=headers)).status == 200
    clock.jump(DAY)
    refused = await call(app, "POST", CHAT_PATH, chat(max_tokens=3), headers=headers)
    assert refused.status == 429
    assert 0 < float(refused.headers["retry-after"]) <= 60
    clock.jump(-2 * DAY)
    other = {"x-api-key": "sk-two", "anthropic-version": "2023-06-01"}
    message = orjson.dumps(
        {"model": "claude-sonnet-4-5", "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]}
    )
    answered = await call(app, "POST", "/v1/messages", message, headers=other)
    assert answered.status == 200  # a fresh key's budget is whole after the jump back
    reset = answered.headers["anthropic-ratelimit-requests-reset"]
    assert reset.startswith(time.strftime("%Y-%m-%d", time.gmtime(clock.wall())))  # the wall clock's day


async def test_a_gemini_daily_quota_is_not_refilled_by_a_day_long_wall_clock_jump() -> None:
    """Daily budgets are buckets over elapsed (monotonic) time, not calendar days: stepping
    the wall clock a day ahead does not give the quota back.
    """
    clock = JumpingClock()
    tier = {"requests_per_day": 1}
    app = app_on(clock, **{"latency.enabled": False, "rate_limits.enabled": True, "rate_limits.tiers": [tier]})
    assert (await call(app, "POST", GEMINI_PATH, GEMINI, query="key=g1")).status == 200
    clock.jump(DAY + 60)
    refused = await call(app, "POST", GEMINI_PATH, GEMINI, query="key=g1")
    assert refused.status == 429
    assert orjson.loads(refused.body)["error"]["status"] == "RESOURCE_EXHAUSTED"


async def test_events_and_the_request_log_are_stamped_from_the_injected_wall_clock_in_order(
    tmp_path: Path,
) -> None:
    """Event ``ts`` is the request's wall start plus monotonic elapsed time: a jump back in
    the middle of a request does not reorder its events; the stamps come from the
    simulator's ``Clock``, so the injected jump shows in them.
    """
    clock = JumpingClock()
    clock.jump(-DAY)  # the whole run happens "yesterday"
    path = tmp_path / "events.jsonl"
    sink = {"type": "jsonl", "path": str(path)}
    app = app_on(
        clock,
        **{
            "latency.multiplier": 0.05,
            "telemetry.events.sinks": [sink],
            "telemetry.request_log.enabled": True,
        },
    )
    task = asyncio.create_task(call(app, "POST", CHAT_PATH, chat(stream=True, max_tokens=10)))
    await asyncio.sleep(0.02)
    clock.jump(-DAY)  # and back once more, mid-request
    reply = await asyncio.wait_for(task, 10)
    await app.telemetry.close()
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    mine = [e for e in events if e["request_id"] == reply.headers["x-request-id"]]
    assert [e["event"] for e in mine] == ["request.received", "request.first_token", "request.completed"]
    stamps = [e["ts"] for e in mine]
    assert stamps == sorted(stamps)
    assert abs(stamps[0] - (time.time() - DAY)) < 60  # from the injected clock, not time.time()
    [entry] = [e for e in app.telemetry.request_log.entries() if e["request_id"] == reply.headers["x-request-id"]]
    assert abs(entry["ts"] - (time.time() - DAY)) < 60


def worker(directory: Path, pid: int) -> Telemetry:
    """One worker's telemetry, sharing ``directory`` with the others, as process ``pid``."""
    config = load_config(flags={"telemetry.metrics.multiprocess_dir": str(directory)})
    telemetry = Telemetry(config, Stats())
    telemetry.shared = SharedStats(str(directory), pid=pid)
    return telemetry


async def test_a_stats_reset_reaches_every_worker_after_the_wall_clock_went_back(tmp_path: Path) -> None:
    """Worker B started counting before the wall clock was stepped back an hour; worker A is
    then asked to reset. Every worker's counts restart: B follows the reset, and A's merged
    view no longer shows B's old counts (reset and counts are matched by reset epoch, not
    by comparing wall-clock times across a jump).
    """
    a = worker(tmp_path, pid=os.getpid())
    b = worker(tmp_path, pid=os.getppid())  # a live process, so its file counts as a live worker
    app_b = SimulatorApp(b.config, telemetry=b)
    for _ in range(3):
        assert (await call(app_b, "POST", CHAT_PATH, chat(max_tokens=3))).status == 200
    b.stats.since += 3600  # B's counting began when the wall clock read an hour later than now
    assert b.shared is not None
    b.shared.write(b.stats)
    assert sum(a.merged_stats().requests.values()) == 3

    a.reset()  # at the (stepped back) wall time of now
    assert sum(a.merged_stats().requests.values()) == 0  # B's old counts are not shown
    b.merged_stats()  # B notices the reset (it does so before each request and each scrape)
    assert sum(b.stats.requests.values()) == 0
    await a.close()
    await b.close()
