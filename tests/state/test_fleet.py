"""Three ``serve`` processes on different ports sharing one real Redis (SPEC RL-3, OPS-3).

One fleet per module (starting replicas costs seconds on a loaded box): exact rate limits
and their headers for every provider, stored Responses resolving on any replica, scenario
steps advancing across replicas, and a chaos preset set through one replica reaching all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openai
import orjson
import pytest

from llm_simulator.testing.server import SubprocessServer
from tests.state.fleet import CHAT, LIMIT, burst, fleet_config, replicas
from tests.state.redis_server import RedisServer

N = 3 * LIMIT
# The chaos state is polled every 0.25 s: a fleet agrees well within this.
PROPAGATION_S = 1.0

SCENARIO = """
scenarios:
  - name: relay
    match: {message: relay}
    after_last: error
    steps:
      - respond: {text: step one}
      - respond: {text: step two}
      - respond: {text: step three}
"""


@pytest.fixture(scope="module")
def fleet(module_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[SubprocessServer]]:
    """Three replicas of one fleet."""
    fixtures = Path(tmp_path_factory.mktemp("fixtures")) / "relay.yaml"
    fixtures.write_text(SCENARIO)
    config = fleet_config(
        module_redis,
        fixtures={"files": [str(fixtures)]},
        telemetry={"request_log": {"enabled": True}},
        chaos={"circuit_breaker": {"enabled": True, "failure_threshold": 3, "recovery_timeout_s": 60}},
    )
    with replicas(config, 3) as servers:
        yield servers


def _admitted(responses: list[httpx.Response], header: str) -> tuple[int, list[int]]:
    assert {r.status_code for r in responses} <= {200, 429}, {r.status_code for r in responses}
    ok = [r for r in responses if r.status_code == 200]
    return len(ok), sorted(int(r.headers[header]) for r in ok)


async def test_openai_limit_is_exact_across_replicas(fleet: list[SubprocessServer]) -> None:
    urls = [s.url for s in fleet]
    responses = await burst(urls, "/v1/chat/completions", CHAT, {"authorization": "Bearer sk-a"}, N)
    count, remaining = _admitted(responses, "x-ratelimit-remaining-requests")
    assert count == LIMIT
    # Each admission took one unit of the one shared bucket: every value from 19 down to 0 once.
    assert remaining == list(range(LIMIT))
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert float(refused.headers["retry-after"]) > 0


async def test_anthropic_limit_is_exact_across_replicas(fleet: list[SubprocessServer]) -> None:
    body = {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-api-key": "sk-b", "anthropic-version": "2023-06-01"}
    responses = await burst([s.url for s in fleet], "/v1/messages", body, headers, N)
    count, remaining = _admitted(responses, "anthropic-ratelimit-requests-remaining")
    assert count == LIMIT
    assert remaining == list(range(LIMIT))
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["error"]["type"] == "rate_limit_error"


async def test_gemini_limit_is_exact_and_retry_info_is_the_shared_buckets(fleet: list[SubprocessServer]) -> None:
    body = {"contents": [{"parts": [{"text": "hi"}]}]}
    path = "/v1beta/models/gemini-2.5-flash-lite:generateContent"
    responses = await burst([s.url for s in fleet], path, body, {"x-goog-api-key": "sk-c"}, N)
    assert {r.status_code for r in responses} == {200, 429}
    assert sum(r.status_code == 200 for r in responses) == LIMIT
    refused = next(r for r in responses if r.status_code == 429)
    details = orjson.loads(refused.content)["error"]["details"]
    delay = next(d["retryDelay"] for d in details if d["@type"].endswith("RetryInfo"))
    # The bucket is empty fleet-wide: one request of 20 per minute refills in at most 3 s.
    assert 0 < float(delay.rstrip("s")) <= 3.0


def test_previous_response_id_resolves_on_any_replica(fleet: list[SubprocessServer]) -> None:
    a, b, c = (openai.OpenAI(base_url=s.url + "/v1", api_key=f"sk-r{i}", max_retries=0) for i, s in enumerate(fleet))
    try:
        first = a.responses.create(model="gpt-4o-mini", input="Remember the word teal.", store=True)
        second = b.responses.create(model="gpt-4o-mini", input="Which word?", previous_response_id=first.id)
        assert second.status == "completed"
        assert c.responses.retrieve(first.id).id == first.id
        items = c.responses.input_items.list(second.id)
        assert [i.type for i in items.data][:1] == ["message"]
        # Deleted through one replica: gone on every replica, the one that created it too.
        c.responses.delete(first.id)
        with pytest.raises(openai.NotFoundError):
            a.responses.retrieve(first.id)
    finally:
        for client in (a, b, c):
            client.close()


def test_scenario_steps_advance_across_replicas(fleet: list[SubprocessServer]) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "relay"}]}
    texts = []
    for server in (*fleet, fleet[0]):
        response = httpx.post(
            server.url + "/v1/chat/completions",
            json=body,
            headers={"x-simulator-session": "s1", "authorization": "Bearer sk-s"},
            timeout=10,
        )
        texts.append(
            response.json()["choices"][0]["message"]["content"] if response.status_code == 200 else response.status_code
        )
    # Three steps on three replicas, then the scenario is spent (after_last: error).
    assert texts == ["step one", "step two", "step three", 400]


FLEET_RULE = """
rules:
  - match: {message: fleet fixture}
    respond: {text: from the fleet}
"""
_keys = iter(range(10**6))


def _ask(url: str) -> httpx.Response:
    """Send the admin-loaded rule's message (a fresh key each time: no rate limit)."""
    body = {**CHAT, "messages": [{"role": "user", "content": "fleet fixture"}]}
    headers = {"authorization": f"Bearer sk-fx{next(_keys)}"}
    return httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=10)


def _scripted(url: str) -> bool:
    """Whether ``url`` answers from the admin-loaded rule."""
    response = _ask(url)
    assert response.status_code == 200, response.text
    return bool(response.json()["choices"][0]["message"]["content"] == "from the fleet")


def _until(urls: set[str], done: Callable[[str], bool]) -> float:
    """Seconds until ``done`` holds for every url (all of them, or 5 s and an assertion)."""
    start = time.monotonic()
    pending = set(urls)
    while pending and time.monotonic() - start < 5:
        pending = {url for url in pending if not done(url)}
    assert not pending, pending
    return time.monotonic() - start


def test_fixtures_loaded_and_cleared_through_one_replica_reach_all(fleet: list[SubprocessServer]) -> None:
    a, b, c = fleet
    assert not any(_scripted(s.url) for s in fleet)
    post = httpx.post(a.url + "/admin/fixtures?mode=append", content=FLEET_RULE, timeout=10)
    assert post.status_code == 200, post.text
    assert _until({b.url, c.url}, _scripted) <= PROPAGATION_S
    # Through the official SDK too, and the follower lists the rule beside the configured scenario.
    client = openai.OpenAI(base_url=c.url + "/v1", api_key="sk-fx-sdk", max_retries=0)
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "fleet fixture"}], max_tokens=5
    )
    client.close()
    assert reply.choices[0].message.content == "from the fleet"
    view = httpx.get(c.url + "/admin/fixtures", timeout=10).json()
    assert [(r["origin"], r["respond"]["text"]) for r in view["rules"]] == [("admin", "from the fleet")]
    assert [s["name"] for s in view["scenarios"]] == ["relay"]
    # Cleared through another replica: every replica stops answering from the rule.
    assert httpx.delete(b.url + "/admin/fixtures", timeout=10).status_code == 200
    assert _until({a.url, c.url}, lambda url: not _scripted(url)) <= PROPAGATION_S
    cleared = httpx.get(a.url + "/admin/fixtures", timeout=10).json()
    assert (cleared["rules"], cleared["scenarios"]) == ([], [])
    # Put the configured scenario back (a replace) for any test that runs after this one.
    assert httpx.post(c.url + "/admin/fixtures", content=SCENARIO, timeout=10).status_code == 200
    _until({a.url, b.url}, lambda url: len(httpx.get(url + "/admin/fixtures", timeout=10).json()["scenarios"]) == 1)


TIMES_RULE = """
rules:
  - match: {message: only thrice}
    times: 3
    respond: {text: one of three}
"""


def test_a_rules_times_budget_is_counted_across_replicas(fleet: list[SubprocessServer]) -> None:
    a, b, c = fleet
    post = httpx.post(a.url + "/admin/fixtures?mode=append", content=TIMES_RULE, timeout=10)
    assert post.status_code == 200, post.text

    def loaded(url: str) -> bool:
        return bool(httpx.get(url + "/admin/fixtures", timeout=10).json()["rules"])

    _until({b.url, c.url}, loaded)
    body = {**CHAT, "messages": [{"role": "user", "content": "only thrice"}]}
    # Concurrent, round-robin over the replicas, under the tier's limit of one key.
    urls = [s.url for s in fleet]
    responses = asyncio.run(burst(urls, "/v1/chat/completions", body, {"authorization": "Bearer sk-t"}, 15))
    assert {r.status_code for r in responses} == {200}
    texts = [r.json()["choices"][0]["message"]["content"] for r in responses]
    assert texts.count("one of three") == 3, texts
    # Put the configured scenario back for the tests after this one.
    assert httpx.post(c.url + "/admin/fixtures", content=SCENARIO, timeout=10).status_code == 200
    _until({a.url, b.url}, lambda url: not loaded(url))


def test_request_log_lists_the_whole_fleet(fleet: list[SubprocessServer]) -> None:
    assert httpx.delete(fleet[0].url + "/admin/requests", timeout=10).status_code == 200
    for i, server in enumerate(fleet):
        body = {**CHAT, "messages": [{"role": "user", "content": f"to replica {i}"}]}
        response = httpx.post(server.url + "/v1/chat/completions", json=body, headers={"authorization": "Bearer sk-l"})
        assert response.status_code == 200
    listed = httpx.get(fleet[1].url + "/admin/requests?path=/v1/chat/completions", timeout=10).json()
    entries = listed["requests"]
    assert [e["body"]["messages"][0]["content"] for e in entries] == [f"to replica {i}" for i in range(3)]
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3 and listed["last_seq"] >= seqs[-1]
    assert entries[0]["headers"]["authorization"] != "Bearer sk-l"  # masked, in Redis too


def test_a_scopes_journal_is_listed_and_cleared_fleet_wide(fleet: list[SubprocessServer]) -> None:
    for i, server in enumerate(fleet):
        for scope in ("fleet-a", "fleet-b"):
            body = {**CHAT, "messages": [{"role": "user", "content": f"{scope} on {i}"}]}
            headers = {"authorization": "Bearer sk-j", "x-simulator-test-id": scope}
            assert httpx.post(server.url + "/v1/chat/completions", json=body, headers=headers).status_code == 200
    listed = httpx.get(fleet[2].url + "/admin/journal?test_id=fleet-a", timeout=10).json()["requests"]
    assert [e["body"]["messages"][0]["content"] for e in listed] == [f"fleet-a on {i}" for i in range(3)]
    assert all(e["answer"]["text"] and e["test_id"] == "fleet-a" for e in listed)
    cleared = httpx.delete(fleet[0].url + "/admin/journal?test_id=fleet-a", timeout=10).json()
    assert cleared == {"cleared": 3}
    assert httpx.get(fleet[1].url + "/admin/journal?test_id=fleet-a", timeout=10).json()["requests"] == []
    others = httpx.get(fleet[1].url + "/admin/journal?test_id=fleet-b", timeout=10).json()["requests"]
    assert len(others) == 3


def _served(url: str) -> int:
    stats = httpx.get(url + "/admin/stats", timeout=10).json()
    return sum(int(row["count"]) for row in stats["requests"] if row["endpoint"] == "chat")


def test_stats_reset_through_one_replica_resets_all(fleet: list[SubprocessServer]) -> None:
    a, b, c = fleet
    for server in (b, c):
        assert (
            httpx.post(
                server.url + "/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer sk-t"}
            ).status_code
            == 200
        )
    assert _served(b.url) > 0 and _served(c.url) > 0
    assert httpx.post(a.url + "/admin/stats/reset", timeout=10).status_code == 200
    reset = time.monotonic()
    while time.monotonic() - reset < 5 and (_served(b.url) or _served(c.url)):
        time.sleep(0.05)
    assert (_served(b.url), _served(c.url)) == (0, 0)
    assert time.monotonic() - reset <= PROPAGATION_S


def _chat_status(url: str, model: str, control: str | None = None) -> int:
    headers = {"authorization": "Bearer sk-cb"} | ({"x-simulator-chaos": control} if control else {})
    body = {**CHAT, "model": model}
    return httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=10).status_code


def test_a_breaker_opened_on_one_replica_opens_on_all(fleet: list[SubprocessServer]) -> None:
    a, b, c = fleet
    model = "gpt-4.1"
    assert _chat_status(b.url, model) == 200
    for _ in range(3):  # the failure threshold, on one replica only
        assert _chat_status(a.url, model, "error=server_error") == 500
    assert _chat_status(a.url, model) == 503  # open here
    opened = time.monotonic()
    while time.monotonic() - opened < 5 and (_chat_status(b.url, model) != 503 or _chat_status(c.url, model) != 503):
        time.sleep(0.05)
    assert time.monotonic() - opened <= PROPAGATION_S
    refused = httpx.post(b.url + "/v1/chat/completions", json={**CHAT, "model": model}, timeout=10)
    assert refused.json()["error"]["code"] == "circuit_open"
    assert httpx.get(c.url + "/admin/circuit-breakers", timeout=10).json()["models"][model]["state"] == "open"
    # Closed by an operator through one replica: closed everywhere.
    assert httpx.post(c.url + "/admin/circuit-breakers/reset", timeout=10).status_code == 200
    closed = time.monotonic()
    while time.monotonic() - closed < 5 and (_chat_status(a.url, model) != 200 or _chat_status(b.url, model) != 200):
        time.sleep(0.05)
    assert (_chat_status(a.url, model), _chat_status(b.url, model)) == (200, 200)


def _failing(url: str) -> bool:
    response = httpx.post(url + "/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer sk-x"}, timeout=10)
    return response.status_code == 503


def test_chaos_preset_through_one_replica_reaches_all(fleet: list[SubprocessServer]) -> None:
    a, *others = fleet
    assert not any(_failing(s.url) for s in fleet)
    put = httpx.put(a.url + "/admin/chaos", json={"enabled": True, "preset": "full_outage"}, timeout=10)
    assert put.status_code == 200
    changed = time.monotonic()
    pending = {s.url for s in others}
    while pending and time.monotonic() - changed < 5:
        pending = {url for url in pending if not _failing(url)}
    elapsed = time.monotonic() - changed
    assert not pending
    assert elapsed <= PROPAGATION_S, elapsed
    assert httpx.get(others[0].url + "/admin/chaos", timeout=10).json()["preset"] == "full_outage"
    # Turned off through another replica: the first follows (its breakers, opened by the
    # outage, closed through a third).
    assert httpx.post(others[1].url + "/admin/chaos/disable", timeout=10).status_code == 200
    assert httpx.post(others[0].url + "/admin/circuit-breakers/reset", timeout=10).status_code == 200
    deadline = time.monotonic() + 5
    while _failing(a.url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _failing(a.url)
