"""The fixtures and sessions admin API, in process: load/list/clear, sessions, and OpenAI-shaped 400s."""

from __future__ import annotations

from typing import Any

import orjson

from llm_simulator.config import load_config
from llm_simulator.server.app import SimulatorApp
from tests.docs_examples import fixture_example
from tests.server.asgi_driver import Captured, call


def make_app() -> SimulatorApp:
    return SimulatorApp(load_config(flags={"latency.enabled": False}))


def body(captured: Captured) -> Any:
    return orjson.loads(captured.body)


def chat(text: str) -> bytes:
    return orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": text}]})


def assert_openai_400(captured: Captured, *needles: str) -> dict[str, Any]:
    assert captured.status == 400, captured.body
    error: dict[str, Any] = body(captured)["error"]
    assert error["type"] == "invalid_request_error"
    for needle in needles:
        assert needle in error["message"], error["message"]
    return error


async def test_load_list_append_and_clear() -> None:
    app = make_app()
    loaded = await call(app, "POST", "/admin/fixtures", fixture_example("text").encode())
    assert loaded.status == 200
    assert body(loaded) == {
        "mode": "replace",
        "loaded": {"rules": 2, "scenarios": 0},
        "total": {"rules": 2, "scenarios": 0},
    }
    appended = await call(app, "POST", "/admin/fixtures", fixture_example("json").encode(), query="mode=append")
    assert body(appended)["total"] == {"rules": 3, "scenarios": 0}
    reply = await call(app, "POST", "/v1/chat/completions", chat("ping"))
    assert body(reply)["choices"][0]["message"]["content"] == "pong"
    listed = body(await call(app, "GET", "/admin/fixtures"))
    assert [r.get("name") for r in listed["rules"]] == ["greeting", "order-status", "pong"]
    assert [r["hits"] for r in listed["rules"]] == [0, 0, 1]
    assert listed["rules"][2]["origin"] == "admin" and listed["session_header"] == "x-simulator-session"
    # Replacing drops the earlier rules.
    await call(app, "POST", "/admin/fixtures", fixture_example("agent").encode())
    listed = body(await call(app, "GET", "/admin/fixtures"))
    assert listed["rules"] == [] and listed["scenarios"][0]["name"] == "weather-agent"
    assert body(await call(app, "DELETE", "/admin/fixtures")) == {"cleared": True}
    assert body(await call(app, "GET", "/admin/fixtures"))["scenarios"] == []
    assert not app.sim.script.active


async def test_invalid_documents_and_modes_are_openai_shaped_400s() -> None:
    app = make_app()
    bad = b"rules:\n  - name: typo\n    respond: {txt: hi}\n"
    error = assert_openai_400(
        await call(app, "POST", "/admin/fixtures", bad), "rules[0] ('typo'): respond.txt: unknown key"
    )
    assert error["code"] == "invalid_fixtures"
    assert_openai_400(await call(app, "POST", "/admin/fixtures", b"rules: ["), "not valid YAML")
    assert_openai_400(await call(app, "POST", "/admin/fixtures", b"  "), "fixtures document")
    error = assert_openai_400(await call(app, "POST", "/admin/fixtures", b"rules: []", query="mode=merge"), "'merge'")
    assert error["param"] == "mode"
    await call(app, "POST", "/admin/fixtures", fixture_example("agent").encode())
    assert_openai_400(
        await call(app, "POST", "/admin/fixtures", fixture_example("agent").encode(), query="mode=append"),
        "already loaded",
    )
    # A failed load changes nothing.
    assert len(body(await call(app, "GET", "/admin/fixtures"))["scenarios"]) == 1


async def test_sessions_view_and_reset() -> None:
    app = make_app()
    await call(app, "POST", "/admin/fixtures", fixture_example("agent").encode())
    headers = {"x-simulator-session": "s1"}
    first = await call(app, "POST", "/v1/chat/completions", chat("weather in Paris?"), headers=headers)
    assert body(first)["choices"][0]["finish_reason"] == "tool_calls"
    await call(app, "POST", "/v1/chat/completions", chat("weather in Paris?"))  # a content-keyed session
    sessions = body(await call(app, "GET", "/admin/sessions"))["sessions"]
    assert [(s["source"], s["next_step"]) for s in sessions] == [("header", 1), ("content", 1)]
    one = body(await call(app, "GET", "/admin/sessions/s1"))
    assert one["scenario"] == "weather-agent" and one["history"][0]["step_name"] == "call the tool"
    missing = await call(app, "GET", "/admin/sessions/nope")
    assert missing.status == 404 and body(missing)["error"]["code"] == "session_not_found"
    assert body(await call(app, "DELETE", "/admin/sessions/s1")) == {"cleared": 1}
    assert (await call(app, "DELETE", "/admin/sessions/s1")).status == 404
    assert body(await call(app, "DELETE", "/admin/sessions")) == {"cleared": 1}
    assert body(await call(app, "GET", "/admin/sessions")) == {"sessions": []}
    # With the sessions gone, the scenario starts again at step 0.
    again = await call(app, "POST", "/v1/chat/completions", chat("weather in Paris?"), headers=headers)
    assert body(again)["choices"][0]["finish_reason"] == "tool_calls"


async def test_a_scopes_sessions_are_read_and_ended_in_that_scope_only() -> None:
    app = make_app()
    scoped = {"x-simulator-test-id": "tests/admin::sessions"}
    await call(app, "POST", "/admin/fixtures", fixture_example("agent").encode(), headers=scoped)
    headers = {**scoped, "x-simulator-session": "s1"}
    first = await call(app, "POST", "/v1/chat/completions", chat("weather in Paris?"), headers=headers)
    assert body(first)["choices"][0]["finish_reason"] == "tool_calls"
    # The global view has no such session; the scope's has, by header or by ?scope=.
    assert (await call(app, "GET", "/admin/sessions/s1")).status == 404
    assert body(await call(app, "GET", "/admin/sessions/s1", headers=scoped))["scenario"] == "weather-agent"
    one = await call(app, "GET", "/admin/sessions/s1", query="scope=tests/admin::sessions")
    assert body(one)["history"][0]["step_name"] == "call the tool"
    assert (await call(app, "DELETE", "/admin/sessions/s1")).status == 404
    assert body(await call(app, "DELETE", "/admin/sessions/s1", headers=scoped)) == {"cleared": 1}
    assert (await call(app, "GET", "/admin/sessions/s1", headers=scoped)).status == 404
    await call(app, "POST", "/v1/chat/completions", chat("weather in Paris?"), headers=headers)
    assert body(await call(app, "DELETE", "/admin/sessions")) == {"cleared": 0}
    assert body(await call(app, "DELETE", "/admin/sessions", headers=scoped)) == {"cleared": 1}


async def test_validation_errors_come_before_fixtures() -> None:
    app = make_app()
    await call(app, "POST", "/admin/fixtures", b"rules: [{respond: {error: {status: 429}}}]")
    bad = await call(app, "POST", "/v1/chat/completions", orjson.dumps({"model": "gpt-4o", "messages": []}))
    assert bad.status == 400
    limited = await call(app, "POST", "/v1/chat/completions", chat("hi"))
    assert limited.status == 429 and body(limited)["error"]["type"] == "requests"
