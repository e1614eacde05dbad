"""The request journal: scoped entries with the simulator's answer, filters, scope clearing, bounds."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.server.app import SimulatorApp
from tests.server.asgi_driver import call

JSON = {"content-type": "application/json"}


def _app(**log: Any) -> SimulatorApp:
    config = {"latency": {"enabled": False}, "seed": 7, "telemetry": {"request_log": log}}
    return SimulatorApp(SimulatorConfig.model_validate(config))


def _chat(content: str = "hi", model: str = "gpt-4o", **extra: Any) -> bytes:
    body = {"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": content}], **extra}
    return orjson.dumps(body)


def _as(test_id: str) -> dict[str, str]:
    return {**JSON, "x-simulator-test-id": test_id}


async def _journal(app: SimulatorApp, query: str = "") -> list[dict[str, Any]]:
    got = await call(app, "GET", "/admin/journal", query=query)
    assert got.status == 200, got.body
    entries: list[dict[str, Any]] = orjson.loads(got.body)["requests"]
    return entries


async def test_scoped_requests_are_journaled_with_the_answer_while_the_global_log_is_off() -> None:
    app = _app()
    await call(app, "POST", "/v1/chat/completions", _chat("unscoped"), headers=JSON)
    await call(app, "POST", "/v1/chat/completions", _chat("scoped"), headers=_as("tests/a.py::test_one"))
    (entry,) = await _journal(app, "test_id=tests/a.py::test_one")
    assert await _journal(app) == [entry]  # the global log is off: only scoped requests are kept
    assert entry["body"]["messages"][0]["content"] == "scoped"
    assert (entry["test_id"], entry["status"], entry["provider"], entry["endpoint"]) == (
        "tests/a.py::test_one",
        200,
        "openai",
        "chat",
    )
    assert entry["finish_reason"] in ("stop", "length")
    assert entry["usage"]["completion_tokens"] > 0
    assert entry["answer"]["text"] and entry["answer"]["tool_calls"] == []
    assert entry["stream"] is False and entry["chaos"] is None and entry["fixture"] is None


async def test_the_answer_holds_tool_calls_and_the_fixture_that_answered() -> None:
    app = _app()
    fixtures = {
        "rules": [
            {
                "match": {"message": "weather"},
                "respond": {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]},
            }
        ]
    }
    assert (await call(app, "POST", "/admin/fixtures", orjson.dumps(fixtures), headers=JSON)).status == 200
    await call(app, "POST", "/v1/chat/completions", _chat("the weather?"), headers=_as("t-tools"))
    (entry,) = await _journal(app, "test_id=t-tools")
    (tool_call,) = entry["answer"]["tool_calls"]
    assert tool_call["name"] == "get_weather"
    assert orjson.loads(tool_call["arguments"]) == {"city": "Oslo"}
    assert entry["fixture"] and entry["finish_reason"] == "tool_calls"


async def test_errors_are_journaled_with_their_message_and_chaos() -> None:
    app = _app()
    chaos = {"x-simulator-chaos": "error=rate_limit"}
    await call(app, "POST", "/v1/chat/completions", _chat(), headers={**_as("t-err"), **chaos})
    await call(app, "POST", "/v1/chat/completions", b"{broken", headers=_as("t-err"))
    limited, broken = await _journal(app, "test_id=t-err")
    assert (limited["status"], limited["error_type"], limited["chaos"]) == (429, "rate_limit", "rate_limit")
    assert limited["answer"] is None and limited["error_message"]
    assert broken["status"] == 400 and "JSON" in broken["error_message"]


async def test_scopes_are_separate_and_filters_narrow() -> None:
    app = _app(enabled=True)
    await call(app, "POST", "/v1/chat/completions", _chat(model="gpt-4o"), headers=_as("t-a"))
    await call(app, "POST", "/v1/chat/completions", _chat(model="gpt-4o-mini"), headers=_as("t-b"))
    await call(app, "POST", "/v1/messages", _chat(model="claude-haiku-4-5"), headers=_as("t-a"))
    await call(app, "GET", "/v1/models", headers={"x-simulator-test-id": "t-a"})
    everything = await _journal(app)
    assert len(everything) == 4
    assert [e["model"] for e in await _journal(app, "test_id=t-b")] == ["gpt-4o-mini"]
    assert [e["provider"] for e in await _journal(app, "test_id=t-a&provider=anthropic")] == ["anthropic"]
    assert [e["path"] for e in await _journal(app, "test_id=t-a&endpoint=models")] == ["/v1/models"]
    assert len(await _journal(app, "status=2xx")) == 4
    assert await _journal(app, "status=4xx") == []
    second = everything[1]["seq"]
    assert [e["seq"] for e in await _journal(app, f"since={second}&until={second + 1}")] == [second + 1]
    ts = everything[0]["ts"]
    assert len(await _journal(app, f"since_ts={ts}&until_ts={ts + 3600}")) == 4
    assert await _journal(app, f"until_ts={ts - 1}") == []
    assert [e["seq"] for e in await _journal(app, "test_id=t-a&limit=1")] == [everything[-1]["seq"]]


async def test_a_scopes_entries_are_cleared_alone() -> None:
    app = _app(enabled=True)
    await call(app, "POST", "/v1/chat/completions", _chat(), headers=_as("t-a"))
    await call(app, "POST", "/v1/chat/completions", _chat(), headers=_as("t-b"))
    got = await call(app, "DELETE", "/admin/journal", query="test_id=t-a")
    assert orjson.loads(got.body) == {"cleared": 1}
    assert await _journal(app, "test_id=t-a") == []
    assert [e["test_id"] for e in await _journal(app)] == ["t-b"]


async def test_scopes_and_their_entries_are_bounded() -> None:
    app = _app(max_scopes=2, max_entries_per_scope=2)
    for test_id in ("t-1", "t-2", "t-1", "t-1", "t-3"):
        await call(app, "POST", "/v1/chat/completions", _chat(), headers=_as(test_id))
    assert len(await _journal(app, "test_id=t-1")) == 2  # the third is the oldest, dropped
    assert await _journal(app, "test_id=t-2") == []  # the least recently written scope, dropped
    assert len(await _journal(app, "test_id=t-3")) == 1


async def test_scoped_journaling_can_be_switched_off() -> None:
    app = _app(scoped=False)
    await call(app, "POST", "/v1/chat/completions", _chat(), headers=_as("t-off"))
    assert await _journal(app, "test_id=t-off") == []


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("status=200x", "status"),
        ("status=700", "status"),
        ("since_ts=yesterday", "since_ts"),
        ("until_ts=nan", "until_ts"),
        ("until=-3", "until"),
        ("modle=gpt-4o", "modle"),
        ("test_id=has%20space", "test_id"),
    ],
)
async def test_bad_filters_are_400s_naming_them(query: str, param: str) -> None:
    got = await call(_app(), "GET", "/admin/journal", query=query)
    assert got.status == 400
    error = orjson.loads(got.body)["error"]
    assert param in error["message"] and error["param"] == param


async def test_delete_refuses_other_filters() -> None:
    got = await call(_app(), "DELETE", "/admin/journal", query="model=gpt-4o")
    assert got.status == 400 and "model" in orjson.loads(got.body)["error"]["message"]
