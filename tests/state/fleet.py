"""Simulator fleets on one real Redis: replicas on different ports, or one server with workers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from llm_simulator.testing.server import SubprocessServer
from tests.state.redis_server import RedisServer

LIMIT = 20  # requests per minute in the tier every fleet test uses
# Several processes importing at once on a loaded 2-core box take a while to answer /health.
STARTUP_S = 120.0

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def fleet_config(redis: RedisServer, **extra: Any) -> dict[str, Any]:
    """Latency off, one tier of ``LIMIT`` requests per minute, state in ``redis``."""
    config: dict[str, Any] = {
        "latency": {"enabled": False},
        "rate_limits": {"enabled": True, "tiers": [{"name": "fleet", "requests_per_minute": LIMIT}]},
        "state": {"url": redis.url, "timeout_s": 0.3, "retry_after_s": 0.3},
    }
    config.update(extra)
    return config


@contextlib.contextmanager
def replicas(config: dict[str, Any], count: int, *args: str) -> Iterator[list[SubprocessServer]]:
    """``count`` serve processes on their own ports, all with ``config``."""
    servers = [SubprocessServer(config, args=args, startup_timeout=STARTUP_S) for _ in range(count)]
    try:
        # Started side by side: each start is mostly imports, seconds on a loaded box.
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(lambda server: server.start(), servers))
        yield servers
    finally:
        for server in servers:
            server.stop()


async def burst(
    urls: Sequence[str], path: str, body: dict[str, Any], headers: dict[str, str], n: int
) -> list[httpx.Response]:
    """``n`` concurrent POSTs spread round-robin over ``urls``, each on its own connection."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=20, limits=limits) as client:
        return await asyncio.gather(
            *(client.post(urls[i % len(urls)] + path, json=body, headers=headers) for i in range(n))
        )
