"""Test scopes through the official SDKs on one live server: isolation, precedence, admin views.

Two tests' scopes on one server never see each other's chaos rules, fixtures or one-shot
faults, and requests without a test id see only the global state, exactly as before.
"""

from __future__ import annotations

import asyncio

import anthropic
import httpx
import openai
import pytest

from llm_simulator.core.test_scope import TEST_ID_HEADER
from llm_simulator.testing import SimulatorHandle
from tests.scopes.conftest import ask, fixture, keep, ok, scoped_openai


def test_fixtures_are_per_scope_and_before_the_global_ones(sim: SimulatorHandle, admin: httpx.Client) -> None:
    ok(admin.post("/admin/fixtures", params={"scope": "test-a"}, content=fixture("ping", "pong from A")))
    ok(admin.post("/admin/fixtures", headers={TEST_ID_HEADER: "test-b"}, content=fixture("ping", "pong from B")))
    ok(admin.post("/admin/fixtures", content=fixture("ping", "global pong") + fixture("other", "global other")[6:]))
    try:
        a, b, plain = scoped_openai(sim, "test-a"), scoped_openai(sim, "test-b"), scoped_openai(sim, None)
        assert ask(a, "ping") == "pong from A"
        assert ask(b, "ping") == "pong from B"
        assert ask(plain, "ping") == "global pong"
        # Nothing in scope A matches: the global fixtures answer next.
        assert ask(a, "other") == "global other"
        # The query parameter names a scope as well as the header.
        via_query = keep(
            openai.OpenAI(
                base_url=sim.openai_base_url, api_key="k", max_retries=0, default_query={"simulator_test_id": "test-b"}
            )
        )
        assert ask(via_query, "ping") == "pong from B"
        view = ok(admin.get("/admin/scopes/test-a"))
        assert view["counters"]["fixture_hits"] == 2 and view["counters"]["by_status"] == {"200": 2}
        assert [r["hits"] for r in view["fixtures"]["rules"]] == [1]
        # The global fixtures are unchanged by the scopes' loads.
        assert len(ok(admin.get("/admin/fixtures"))["rules"]) == 2
    finally:
        ok(admin.delete("/admin/fixtures"))


def test_chaos_rules_are_per_scope_and_unscoped_traffic_is_unaffected(
    sim: SimulatorHandle, admin: httpx.Client
) -> None:
    rules = {"rules": [{"name": "down", "error_type": "server_error"}]}
    ok(admin.put("/admin/chaos", params={"scope": "chaos-a"}, json=rules))
    a, b, plain = scoped_openai(sim, "chaos-a"), scoped_openai(sim, "chaos-b"), scoped_openai(sim, None)
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            ask(a, "hi")
        assert ask(b, "hi")
        assert ask(plain, "hi")
    assert ok(admin.get("/admin/chaos"))["enabled"] is False
    scoped = ok(admin.get("/admin/chaos", params={"scope": "chaos-a"}))
    assert scoped["injections"] == {"server_error": 3}
    view = ok(admin.get("/admin/scopes/chaos-a"))
    assert view["counters"]["faults_fired"] == 3 and view["counters"]["by_status"] == {"500": 3}
    # Clearing the scope's rules leaves its chaos on but without any rule: nothing is injected.
    ok(admin.delete("/admin/chaos/rules", params={"scope": "chaos-a"}))
    assert ask(a, "hi")


def test_one_shot_faults_fire_exactly_n_times_in_their_scope_only(sim: SimulatorHandle, admin: httpx.Client) -> None:
    armed = ok(admin.post("/admin/scopes/shot-a/faults", json={"count": 2, "error_type": "rate_limit"}))
    assert armed["remaining"] == 2 and armed["scope"] == "shot-a"
    a, b = scoped_openai(sim, "shot-a"), scoped_openai(sim, "shot-b")
    assert ask(b, "hi")  # another scope never meets it
    for _ in range(2):
        with pytest.raises(openai.RateLimitError):
            ask(a, "hi")
    assert ask(a, "hi")
    listed = ok(admin.get("/admin/scopes/shot-a/faults"))["faults"]
    assert listed == []  # spent and forgotten
    # A filter narrows what it fails: only the named model.
    ok(
        admin.post(
            "/admin/faults", params={"scope": "shot-a"}, json={"models": ["gpt-4o-mini"], "misbehave": "refusal"}
        )
    )
    assert ask(a, "hi", model="gpt-4o")
    refused = a.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert refused.choices[0].message.refusal
    assert ask(a, "hi", model="gpt-4o-mini")


def test_global_one_shot_fault_hits_unscoped_and_scoped_requests_once(
    sim: SimulatorHandle, admin: httpx.Client
) -> None:
    ok(admin.post("/admin/faults", json={"count": 1, "error_type": "overloaded"}))
    plain = scoped_openai(sim, None)
    with pytest.raises(openai.APIStatusError) as caught:
        ask(plain, "hi")
    assert caught.value.status_code == 529 or caught.value.status_code == 503
    assert ask(plain, "hi")
    assert ok(admin.get("/admin/faults"))["faults"] == []


def test_admin_views_clear_and_errors(sim: SimulatorHandle, admin: httpx.Client) -> None:
    client = scoped_openai(sim, "viewed")
    assert ask(client, "hi")
    listed = ok(admin.get("/admin/scopes"))
    assert "viewed" in [s["id"] for s in listed["scopes"]]
    assert listed["idle_ttl_s"] == 900 and listed["max_scopes"] == 1000
    ok(admin.put("/admin/scopes/viewed", json={"strict": True}))
    assert ok(admin.get("/admin/scopes/viewed"))["strict_in_force"] is True
    assert ok(admin.delete("/admin/scopes/viewed")) == {"cleared": True}
    missing = admin.get("/admin/scopes/viewed")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "scope_not_found"
    # After a clear the scope starts afresh (strict off again).
    assert ask(client, "hi")
    bad = admin.post("/admin/scopes/x/faults", json={"count": 0, "error_type": "rate_limit"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "count"
    nothing = admin.post("/admin/faults", json={"count": 1, "latency_multiplier": 2})
    assert nothing.status_code == 400 and "needs error_type" in nothing.json()["error"]["message"]
    typo = admin.post("/admin/faults", json={"error_typ": "rate_limit"})
    assert typo.status_code == 400 and typo.json()["error"]["code"] == "invalid_fault"
    assert admin.put("/admin/scopes/x", json={"strict": "yes"}).status_code == 400
    too_many = {"rules": [{"error_type": "rate_limit"}] * 101}
    assert admin.put("/admin/chaos", params={"scope": "x"}, json=too_many).status_code == 400


def test_an_invalid_test_id_is_a_provider_shaped_400_naming_the_header(sim: SimulatorHandle) -> None:
    client = scoped_openai(sim, "bad id with spaces")
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, "hi")
    body = caught.value.body
    assert isinstance(body, dict) and body["param"] == TEST_ID_HEADER and body["code"] == "invalid_test_id"
    assert TEST_ID_HEADER in caught.value.message


async def test_concurrent_requests_meet_a_one_shot_fault_exactly_n_times(sim: SimulatorHandle) -> None:
    client = openai.AsyncOpenAI(
        base_url=sim.openai_base_url, api_key="k", max_retries=0, default_headers={TEST_ID_HEADER: "burst"}
    )
    async with httpx.AsyncClient(base_url=sim.url) as admin, client:
        ok(await admin.post("/admin/scopes/burst/faults", json={"count": 4, "error_type": "server_error"}))
        calls = [
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=4)
            for _ in range(16)
        ]
        results = await asyncio.gather(*calls, return_exceptions=True)
        failed = [r for r in results if isinstance(r, openai.InternalServerError)]
        assert len(failed) == 4 and all(not isinstance(r, BaseException) or r in failed for r in results)
        view = ok(await admin.get("/admin/scopes/burst"))
    assert view["counters"]["by_status"] == {"200": 12, "500": 4}


def test_a_one_shot_stream_fault_cuts_one_stream(sim: SimulatorHandle, admin: httpx.Client) -> None:
    ok(admin.post("/admin/scopes/streams/faults", json={"stream_fault": {"type": "disconnect", "after_tokens": 2}}))
    client = scoped_openai(sim, "streams")
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=20, stream=True
        ):
            pass
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=20, stream=True
        )
    )
    assert chunks[-1].choices == [] or chunks[-1].choices[0].finish_reason is not None


def test_fixture_times_are_counted_per_scope(sim: SimulatorHandle, admin: httpx.Client) -> None:
    once = "rules:\n  - match: {message: quota}\n    times: 1\n    respond: {error: {type: rate_limit}}\n"
    for name in ("times-a", "times-b"):
        ok(admin.post("/admin/fixtures", params={"scope": name}, content=once))
    for name in ("times-a", "times-b"):
        client = scoped_openai(sim, name)
        with pytest.raises(openai.RateLimitError):
            ask(client, "quota")
        assert ask(client, "quota")  # spent in this scope only


def test_a_pytest_node_id_names_a_scope_through_the_query_routes(sim: SimulatorHandle, admin: httpx.Client) -> None:
    node = "tests/test_agent.py::test_retry[param-1]"
    ok(admin.post("/admin/faults", params={"scope": node}, json={"error_type": "rate_limit"}))
    client = scoped_openai(sim, node)
    with pytest.raises(openai.RateLimitError):
        ask(client, "hi")
    ok(admin.put("/admin/scope", params={"scope": node}, json={"strict": True}))
    view = ok(admin.get("/admin/scope", headers={TEST_ID_HEADER: node}))
    assert view["id"] == node and view["strict"] is True and view["counters"]["faults_fired"] == 1
    assert ok(admin.delete("/admin/scope", params={"scope": node})) == {"cleared": True}
    assert admin.get("/admin/scope").status_code == 400


def test_every_bad_admin_input_is_a_named_400(admin: httpx.Client) -> None:
    many = "rules:\n" + "  - respond: {text: x}\n" * 201
    cases = [
        (admin.put("/admin/scopes/x", json={"strikt": True}), "invalid_scope", None),
        (admin.post("/admin/faults", content=b"{not json"), "invalid_json", None),
        (admin.post("/admin/faults", json=[1]), "invalid_json", None),
        (admin.get("/admin/scopes/bad%20id"), "invalid_test_id", TEST_ID_HEADER),
        (admin.get("/admin/chaos", params={"scope": "bad id"}), "invalid_test_id", TEST_ID_HEADER),
        (admin.post("/admin/fixtures", params={"scope": "big"}, content=many), "invalid_fixtures", None),
        (
            admin.post("/admin/fixtures", params={"scope": "big", "mode": "append"}, content=b"rules: []"),
            "invalid_fixtures",
            None,
        ),
    ]
    for response, code, param in cases:
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["code"] == code, error
        assert param is None or error["param"] == param
    assert "at most 200 fixture rules and scenarios, not 201" in cases[-2][0].text


def test_an_invalid_test_id_is_anthropic_shaped_on_anthropic_routes(sim: SimulatorHandle) -> None:
    client = keep(
        anthropic.Anthropic(
            base_url=sim.anthropic_base_url, api_key="k", max_retries=0, default_headers={TEST_ID_HEADER: "a b"}
        )
    )
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error" and TEST_ID_HEADER in body["error"]["message"]
