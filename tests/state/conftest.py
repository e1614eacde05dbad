"""Fixtures of the state backend tests: a real throwaway redis-server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.state.redis_server import REDIS_BINARY, SKIP_REASON, RedisServer


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server on a free 127.0.0.1 port, stopped after the test."""
    if REDIS_BINARY is None:
        pytest.skip(SKIP_REASON)
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.close()
