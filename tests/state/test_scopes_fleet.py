"""Test scopes on a Redis-backed fleet: two replicas serve one scope as one server would.

A scope's settings written through one replica are seen by the next request on the other
(each scoped request reads the scope's document), a one-shot fault's budget is spent
exactly once across both under concurrent load, and a scope cleared on one is cleared on both.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
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


def _fleet_counters(server: SubprocessServer, scope: str, requests: int) -> dict[str, Any]:
    """The scope's counters read through ``server`` once they show ``requests``.

    Each replica adds its counts to the fleet's in the background right after a response.
    """
    deadline = time.monotonic() + 10
    while True:
        view = httpx.get(server.url + "/admin/scope", params={"scope": scope}, timeout=10).json()
        if view["counters"]["requests"] >= requests or time.monotonic() > deadline:
            counters: dict[str, Any] = view["counters"]
            return counters
        time.sleep(0.05)


def test_a_scopes_counters_and_the_scope_list_add_up_across_replicas(pair: list[SubprocessServer]) -> None:
    a, b = pair
    scope = "fleet-counted"
    ok = httpx.post(a.url + "/admin/fixtures", params={"scope": scope}, content=RULE, timeout=10)
    assert ok.status_code == 200, ok.text
    clients = [
        openai.OpenAI(base_url=f"{server.url}/v1", api_key="k", max_retries=0, default_headers={TEST_ID_HEADER: scope})
        for server in (a, b)
    ]
    for client in clients:  # one fixture hit on each replica, one generated answer on each
        for text in ("hi", "unscripted"):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
    shot = httpx.post(b.url + "/admin/scopes/" + scope + "/faults", json={"error_type": "rate_limit"}, timeout=10)
    assert shot.status_code == 200, shot.text
    with pytest.raises(openai.RateLimitError):
        clients[1].chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    for client in clients:
        client.close()
    for server in (a, b):  # either replica shows the fleet's sum
        counters = _fleet_counters(server, scope, 5)
        assert counters["requests"] == 5 and counters["by_status"] == {"200": 4, "429": 1}
        assert counters["fixture_hits"] == 2 and counters["faults_by_kind"] == {"rate_limit": 1}
    # A scope only the other replica served is listed too, marked as not kept here.
    only_b = httpx.post(
        b.url + "/v1/chat/completions", json=CHAT, headers={TEST_ID_HEADER: "fleet-elsewhere"}, timeout=10
    )
    assert only_b.status_code == 200
    _fleet_counters(b, "fleet-elsewhere", 1)
    listed = {s["id"]: s for s in httpx.get(a.url + "/admin/scopes", timeout=10).json()["scopes"]}
    assert listed[scope]["here"] is True and listed[scope]["requests"] == 5
    assert listed["fleet-elsewhere"]["here"] is False and listed["fleet-elsewhere"]["requests"] == 1
    # ... and found by GET /admin/scopes/{id} there (the SDK's scope_counters), not a 404.
    assert _fleet_counters(a, "fleet-elsewhere", 1)["requests"] == 1
    # Dropping the scope anywhere clears its counters everywhere.
    assert httpx.delete(a.url + "/admin/scope", params={"scope": scope}, timeout=10).json() == {"cleared": True}
    after = httpx.get(b.url + "/admin/scope", params={"scope": scope}, timeout=10).json()
    assert after["counters"]["requests"] == 0 and after["fixtures"]["rules"] == []
