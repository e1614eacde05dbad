"""The request journal through the SDK, with the official SDKs sending in test scopes on a real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types

from llm_simulator.sdk import AsyncClient, BadRequestError, Client, Journal, JournalAssertionError, scope
from llm_simulator.testing import SimulatorHandle, start_simulator

KEY = "sk-journal-test"
WEATHER = {
    "rules": [
        {
            "match": {"message": "weather"},
            "respond": {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]},
        }
    ]
}
SCHEMA: dict[str, Any] = {"type": "object", "properties": {"city": {"type": "string"}}}
TOOL: Any = {"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    # The global request log off: scoped requests are journaled all the same.
    with start_simulator({"telemetry.request_log.enabled": False}) as handle:
        handle.admin.load_fixtures(WEATHER)
        yield handle


def _client(sim: SimulatorHandle, test_id: str | None) -> Client:
    return Client(sim.url, api_key=KEY, retry=None, test_id=test_id)


def _openai(sim: SimulatorHandle, test_id: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.openai_base_url, api_key=KEY, max_retries=0, **scope.openai_options(test_id))


def test_openai_chat_tool_loop_is_journaled_and_the_tool_result_asserted(sim: SimulatorHandle) -> None:
    test_id = "tests/journal::openai_chat"
    with _openai(sim, test_id) as client, _client(sim, test_id) as sdk:
        messages: list[Any] = [{"role": "user", "content": "What is the weather in Oslo?"}]
        first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[TOOL])
        call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
        messages += [first.choices[0].message.model_dump(exclude_none=True)]
        messages += [{"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[TOOL])
        journal = sdk.journal()
        assert [e["test_id"] for e in journal] == [test_id, test_id]
        answered = journal[0]["answer"]["tool_calls"][0]
        assert (answered["name"], json.loads(answered["arguments"])) == ("get_weather", {"city": "Oslo"})
        assert call.id.endswith(answered["id"])  # the wire id is the provider's prefix + the neutral id
        assert journal.assert_tool_result_sent(call.id)["seq"] == journal[-1]["seq"]
        with pytest.raises(JournalAssertionError) as failed:
            journal.assert_tool_result_sent("call_nope")
        message = str(failed.value)
        assert "call_nope" in message and f"openai tool message for {call.id}" in message
        assert "POST /v1/chat/completions" in message  # the entries are listed


def test_openai_responses_function_call_output(sim: SimulatorHandle) -> None:
    test_id = "tests/journal::responses"
    tool = {"type": "function", "name": "get_weather", "parameters": SCHEMA}
    with _openai(sim, test_id) as client, _client(sim, test_id) as sdk:
        first = client.responses.create(model="gpt-4o-mini", input="weather please", tools=[tool])  # type: ignore[list-item]
        call = next(item for item in first.output if item.type == "function_call")
        follow: list[Any] = [{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}]
        client.responses.create(model="gpt-4o-mini", input=follow, previous_response_id=first.id, tools=[tool])  # type: ignore[list-item]
        sdk.journal().assert_tool_result_sent(call.call_id)


def test_anthropic_tool_result_block(sim: SimulatorHandle) -> None:
    test_id = "tests/journal::anthropic"
    tool = {"name": "get_weather", "input_schema": SCHEMA}
    with (
        anthropic.Anthropic(
            base_url=sim.anthropic_base_url, api_key=KEY, max_retries=0, **scope.anthropic_options(test_id)
        ) as client,
        _client(sim, test_id) as sdk,
    ):
        messages: list[Any] = [{"role": "user", "content": "weather in Oslo?"}]
        first = client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=messages, tools=[tool])  # type: ignore[list-item]
        use = next(block for block in first.content if block.type == "tool_use")
        messages += [{"role": "assistant", "content": [block.model_dump() for block in first.content]}]
        messages += [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]}]
        client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=messages, tools=[tool])  # type: ignore[list-item]
        journal = sdk.journal(provider="anthropic")
        assert len(journal) == 2 and journal[0]["finish_reason"] == "tool_calls"
        journal.assert_tool_result_sent(use.id)
        journal.assert_requested(times=2, model="claude-haiku-4-5")


def test_gemini_function_response_by_name(sim: SimulatorHandle) -> None:
    test_id = "tests/journal::gemini"
    options = types.HttpOptions(
        base_url=sim.gemini_base_url, retry_options=types.HttpRetryOptions(attempts=1), **scope.genai_options(test_id)
    )
    decl = types.FunctionDeclaration(name="get_weather", parameters_json_schema=SCHEMA)
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[decl])])
    with genai.Client(api_key=KEY, http_options=options) as client, _client(sim, test_id) as sdk:
        first = client.models.generate_content(model="gemini-2.5-flash", contents="weather in Oslo?", config=config)
        call = first.function_calls[0]  # type: ignore[index]
        contents = [
            types.Content(role="user", parts=[types.Part(text="weather in Oslo?")]),
            first.candidates[0].content,  # type: ignore[index]
            types.Content(
                role="user",
                parts=[types.Part.from_function_response(name=call.name or "", response={"result": "sunny"})],
            ),
        ]
        client.models.generate_content(model="gemini-2.5-flash", contents=contents, config=config)
        journal = sdk.journal()
        journal.assert_tool_result_sent(name="get_weather")
        with pytest.raises(JournalAssertionError, match="gemini functionResponse for get_weather"):
            journal.assert_tool_result_sent(name="get_time")


def test_scopes_are_separate_and_cleared_alone(sim: SimulatorHandle) -> None:
    with _client(sim, "tests/journal::a") as a, _client(sim, "tests/journal::b") as b:
        a.chat("one", max_tokens=3)
        a.chat("two", max_tokens=3, model="gpt-4o")
        b.chat("three", max_tokens=3, provider="anthropic")
        assert [e["body"]["messages"][0]["content"] for e in a.journal()] == ["one", "two"]
        assert [e["provider"] for e in b.journal()] == ["anthropic"]
        assert [e["model"] for e in a.journal(model="gpt-4o")] == ["gpt-4o"]
        assert len(a.journal(test_id="tests/journal::b")) == 1  # another scope, by name
        a.journal().assert_requested(times=1, model="gpt-4o")
        with pytest.raises(JournalAssertionError) as failed:
            a.journal().assert_requested(times=3, provider="openai")
        message = str(failed.value)
        assert "expected 3 request(s) with provider='openai', got 2" in message
        assert (
            message.count("POST /v1/chat/completions") == 2
            and "anthropic" not in message.rsplit("journal", maxsplit=1)[-1]
        )
        assert a.admin.clear_journal() == {"cleared": 2}
        assert a.journal() == [] and len(b.journal()) == 1


def test_the_sdk_carries_the_test_id_on_admin_calls_and_offers_headers(sim: SimulatorHandle) -> None:
    with _client(sim, "tests/journal::headers") as sdk:
        assert sdk.scope_headers() == {"x-simulator-test-id": "tests/journal::headers"}
        seen: list[str | None] = []
        hook = scope.event_hook("tests/journal::hooked")
        with httpx.Client(
            event_hooks={"request": [hook, lambda r: seen.append(r.headers.get("x-simulator-test-id"))]}
        ) as http:
            body = {"model": "gpt-4o-mini", "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]}
            assert http.post(sim.openai_base_url + "/chat/completions", json=body).status_code == 200
        assert seen == ["tests/journal::hooked"]
        assert len(sdk.journal(test_id="tests/journal::hooked")) == 1
    with pytest.raises(ValueError, match="invalid test id"):
        Client(sim.url, test_id="has spaces")
    with pytest.raises(ValueError, match="invalid test id"):
        scope.openai_options("")


def test_bad_filters_raise_a_clear_bad_request(sim: SimulatorHandle) -> None:
    with _client(sim, None) as sdk:
        with pytest.raises(BadRequestError, match="status must be an HTTP status"):
            sdk.journal(status="2x")
        with pytest.raises(BadRequestError, match="since_ts"):
            sdk.journal(since_ts=-1.0)


async def test_the_async_client_reads_and_clears_its_scope(sim: SimulatorHandle) -> None:
    async with AsyncClient(sim.url, api_key=KEY, retry=None, test_id="tests/journal::async") as client:
        await client.chat("hello there", max_tokens=3, provider="gemini")
        journal = await client.journal()
        assert journal.last(provider="gemini") is not None and journal.last(provider="openai") is None
        assert (await client.admin.clear_journal())["cleared"] == 1


def test_assert_no_unmatched_lists_strict_misses() -> None:
    miss = {
        "seq": 4,
        "method": "POST",
        "path": "/v1/messages",
        "status": 400,
        "error_type": "strict_no_fixture",
        "error_message": "no fixture matched POST /v1/messages",
    }
    Journal([{**miss, "error_type": None, "status": 200}]).assert_no_unmatched()
    with pytest.raises(JournalAssertionError, match=r"1 request\(s\) matched no fixture[\s\S]*#4 POST /v1/messages"):
        Journal([miss]).assert_no_unmatched()
    cassette = {**miss, "seq": 5, "status": 404, "error_type": "cassette_miss"}
    with pytest.raises(JournalAssertionError, match=r"1 request\(s\) matched no cassette entry[\s\S]*#5 POST"):
        Journal([cassette]).assert_no_unmatched()
    with pytest.raises(JournalAssertionError, match=r"2 request\(s\) matched no fixture or cassette entry"):
        Journal([miss, cassette]).assert_no_unmatched()
