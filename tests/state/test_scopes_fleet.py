"""Test scopes on a Redis-backed fleet: two replicas serve one scope as one server would.

A scope's settings written through one replica are seen by the next request on the other
(each scoped request reads the scope's document), a one-shot fault's budget is spent
exactly once across both under concurrent load, and a scope cleared on one is cleared on both.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from llm_simulator.core.test_scope import TEST_ID_HEADER
from llm_simulator.testing.server import SubprocessServer
from tests.state.fleet import CHAT, burst, replicas
from tests.state.redis_server import RedisServer

RULE = "rules:\n  - match: {message: hi}\n    respond: {text: scoped answer}\n"


@pytest.fixture(scope="module")
def pair(module_redis: RedisServer) -> Iterator[list[SubprocessServer]]:
    """Two replicas on one Redis."""
    config = {"latency": {"enabled": False}, "state": {"url": module_redis.url, "timeout_s": 0.3}}
    with replicas(config, 2) as servers:
        yield servers


def _text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    content: str = response.json()["choices"][0]["message"]["content"]
    return content


def test_a_scope_written_on_one_replica_serves_on_the_other(pair: list[SubprocessServer]) -> None:
    a, b = pair
    headers = {TEST_ID_HEADER: "fleet-scope"}
    loaded = httpx.post(a.url + "/admin/fixtures", params={"scope": "fleet-scope"}, content=RULE, timeout=10)
    assert loaded.status_code == 200, loaded.text
    assert _text(httpx.post(b.url + "/v1/chat/completions", json=CHAT, headers=headers, timeout=10)) == "scoped answer"
    # Another scope and unscoped traffic on either replica do not see it.
    other = httpx.post(b.url + "/v1/chat/completions", json=CHAT, headers={TEST_ID_HEADER: "other"}, timeout=10)
    assert _text(other) != "scoped answer"
    assert _text(httpx.post(a.url + "/v1/chat/completions", json=CHAT, timeout=10)) != "scoped answer"
    assert httpx.delete(b.url + "/admin/scopes/fleet-scope", timeout=10).json() == {"cleared": True}
    assert _text(httpx.post(a.url + "/v1/chat/completions", json=CHAT, headers=headers, timeout=10)) != "scoped answer"


async def test_a_one_shot_budget_is_spent_exactly_once_across_replicas(pair: list[SubprocessServer]) -> None:
    a, b = pair
    async with httpx.AsyncClient(timeout=10) as admin:
        armed = await admin.post(
            a.url + "/admin/scopes/fleet-shot/faults", json={"count": 5, "error_type": "server_error"}
        )
        assert armed.status_code == 200, armed.text
    responses = await burst([a.url, b.url], "/v1/chat/completions", CHAT, {TEST_ID_HEADER: "fleet-shot"}, 24)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [500] * 5
