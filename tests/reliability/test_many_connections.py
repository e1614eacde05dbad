"""More connections at once than granian's default admission bound (1024 per server).

Granian admits ``backlog // workers`` requests by default; past that, new connections wait
unanswered in the kernel's queue until one in flight ends. The simulator raises granian's
bound above its own ``security.max_concurrent_requests`` (server/run.py), so 1100 slow
requests on one worker all run at once. Under the old bound the last 76 would have waited
for the first ones to finish: twice the answer time.
"""

from __future__ import annotations

import asyncio
import resource
import time

import orjson
import pytest

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.server.run import ADMIN_HEADROOM, granian_backpressure, raise_open_file_limit
from llm_simulator.testing.server import SubprocessServer

CONNECTIONS = 1100
ANSWER_MS = 4000
BODY = orjson.dumps({"model": "slow-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})


def test_granian_admits_the_simulators_own_limit_and_headroom() -> None:
    assert granian_backpressure(SimulatorConfig()) == 10_000 + ADMIN_HEADROOM
    limited = SimulatorConfig.model_validate({"security": {"max_concurrent_requests": 50}})
    assert granian_backpressure(limited) == 50 + ADMIN_HEADROOM
    unbounded = SimulatorConfig.model_validate({"security": {"max_concurrent_requests": None}})
    assert granian_backpressure(unbounded) > 100_000


async def _one(port: int) -> tuple[int, float]:
    """Send one request on its own connection; the status and seconds to the whole answer."""
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = (
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(BODY)
        )
        writer.write(head + BODY)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=60)
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, time.perf_counter() - start


async def _all(port: int) -> list[tuple[int, float]]:
    return await asyncio.gather(*(_one(port) for _ in range(CONNECTIONS)))


def test_more_than_1024_slow_requests_run_at_once_on_one_worker() -> None:
    fixed = {"ttft": {"type": "fixed", "value_ms": ANSWER_MS}, "itl": {"type": "fixed", "value_ms": 0}}
    config = {
        "latency": {"profiles": {"four-seconds": fixed}},
        "models": {"add": [{"id": "slow-model", "latency_profile": "four-seconds"}]},
    }
    server = SubprocessServer(config).start()
    try:
        port = int(server.url.rsplit(":", 1)[1])
        results = asyncio.run(_all(port))
    finally:
        server.stop()
    statuses = [status for status, _ in results]
    assert statuses.count(200) == CONNECTIONS, sorted(set(statuses))
    slowest = max(took for _, took in results)
    # All at once: about ANSWER_MS each. A request held back by an admission bound below
    # CONNECTIONS would take a second ANSWER_MS; 1.75x leaves room for a loaded machine.
    assert slowest < 1.75 * ANSWER_MS / 1000, f"the slowest request took {slowest:.2f} s"


def test_the_open_file_limit_is_raised_towards_the_hard_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = {"now": (1024, 4096)}
    monkeypatch.setattr(resource, "getrlimit", lambda _kind: limits["now"])
    monkeypatch.setattr(resource, "setrlimit", lambda _kind, value: limits.update(now=value))
    assert raise_open_file_limit(65_536) == 4096  # capped by the hard limit
    assert limits["now"] == (4096, 4096)
    limits["now"] = (100_000, 200_000)
    assert raise_open_file_limit(65_536) == 100_000  # already higher: left alone
    assert limits["now"] == (100_000, 200_000)
