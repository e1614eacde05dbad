"""Fixtures of the state backend tests: a real throwaway redis-server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.state.redis_server import REDIS_BINARY, SKIP_REASON, RedisServer


def _redis() -> Iterator[RedisServer]:
    if REDIS_BINARY is None:
        pytest.skip(SKIP_REASON)
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server on a free 127.0.0.1 port, stopped after the test."""
    yield from _redis()


@pytest.fixture(scope="module")
def module_redis() -> Iterator[RedisServer]:
    """One redis-server for a module's tests (they share a fleet started once)."""
    yield from _redis()
