"""Fixture overrides and ordered parts through the official SDKs, streamed and not.

The server loads docs/fixtures.md's ``overrides`` example: one rule pins the response id,
model, usage, finish reason and system fingerprint; another interleaves text and tool calls
(one with a fixed id). Each provider's SDK must report exactly those values, in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types

from tests.docs_examples import fixture_example
from tests.live import LiveServer, live_server
from tests.providers.bedrock.helpers import MODEL as BEDROCK_MODEL

PINNED = "pinned, please"
TRIP = "plan the trip"
ORDER = ["text:Checking the weather first. ", "call:get_weather", "text:And the trains.", "call:find_trains"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("overrides")
    (root / "fixtures.yaml").write_text(fixture_example("overrides"), encoding="utf-8")
    with live_server("--no-latency", "--fixtures", str(root / "fixtures.yaml")) as server:
        yield server


@pytest.fixture(scope="module")
def gem(live: LiveServer) -> Iterator[genai.Client]:
    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=live.url, api_version="v1beta"))
    try:
        yield client
    finally:
        client.close()


def chat(oai: openai.OpenAI, text: str, stream: bool) -> Any:
    args: Any = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    if not stream:
        return oai.chat.completions.create(**args)
    events = oai.chat.completions.create(**args, stream=True, stream_options={"include_usage": True})
    chunks = list(events)
    return chunks


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_openai_chat_overrides(oai: openai.OpenAI, stream: bool) -> None:
    if stream:
        chunks = chat(oai, PINNED, True)
        assert {c.id for c in chunks} == {"chatcmpl-fixture-1"}
        assert {c.model for c in chunks} == {"gpt-4o-2024-08-06"}
        assert {c.system_fingerprint for c in chunks} == {"fp_fixture"}
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
        usage = chunks[-1].usage
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        completion = chat(oai, PINNED, False)
        assert (completion.id, completion.model, completion.system_fingerprint) == (
            "chatcmpl-fixture-1",
            "gpt-4o-2024-08-06",
            "fp_fixture",
        )
        assert completion.choices[0].finish_reason == "length"
        usage = completion.usage
        text = completion.choices[0].message.content
    assert text == "Cut short"
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (100, 7, 107)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_openai_chat_ordered_parts(oai: openai.OpenAI, stream: bool) -> None:
    if stream:
        # The order on the wire: content deltas and tool-call deltas as the fixture lists them.
        order: list[str] = []
        for chunk in chat(oai, TRIP, True):
            delta = chunk.choices[0].delta if chunk.choices else None
            if delta is None:
                continue
            if delta.content:
                if not order or not order[-1].startswith("text:"):
                    order.append("text:")
                order[-1] += delta.content
            for call in delta.tool_calls or []:
                if call.function and call.function.name:
                    order.append(f"call:{call.function.name}")
                    if call.id:
                        order.append(f"id:{call.id}")
        assert order == [*ORDER[:2], "id:call_weather1", *ORDER[2:3], ORDER[3], order[-1]]
        assert order[-1].startswith("id:call_") and order[-1] != "id:call_weather1"
    else:
        message = chat(oai, TRIP, False).choices[0].message
        assert message.content == "Checking the weather first. And the trains."
        calls = message.tool_calls or []
        assert [(c.function.name, c.function.arguments) for c in calls] == [
            ("get_weather", '{"city":"Paris"}'),
            ("find_trains", '{"to":"Paris"}'),
        ]
        assert calls[0].id == "call_weather1"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_openai_responses_overrides_and_order(oai: openai.OpenAI, stream: bool) -> None:
    def respond(text: str) -> Any:
        if not stream:
            return oai.responses.create(model="gpt-4o-mini", input=text)
        events: list[Any] = list(oai.responses.create(model="gpt-4o-mini", input=text, stream=True))
        return events[-1].response  # response.completed / response.incomplete carries the object

    pinned = respond(PINNED)
    assert (pinned.id, pinned.model, pinned.status) == ("chatcmpl-fixture-1", "gpt-4o-2024-08-06", "incomplete")
    assert (pinned.usage.input_tokens, pinned.usage.output_tokens) == (100, 7)
    trip = respond(TRIP)
    kinds = [f"text:{item.content[0].text}" if item.type == "message" else f"call:{item.name}" for item in trip.output]
    assert kinds == ORDER and trip.status == "completed"
    assert trip.output[1].call_id == "call_weather1"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_anthropic_overrides_and_order(claude: anthropic.Anthropic, stream: bool) -> None:
    def message(text: str) -> Any:
        args: Any = {"model": "claude-haiku-4-5", "max_tokens": 200, "messages": [{"role": "user", "content": text}]}
        if not stream:
            return claude.messages.create(**args)
        with claude.messages.stream(**args) as events:
            return events.get_final_message()

    pinned = message(PINNED)
    assert (pinned.id, pinned.model, pinned.stop_reason) == ("chatcmpl-fixture-1", "gpt-4o-2024-08-06", "max_tokens")
    assert (pinned.usage.input_tokens, pinned.usage.output_tokens) == (100, 7)
    trip = message(TRIP)
    kinds = [f"text:{b.text}" if b.type == "text" else f"call:{b.name}" for b in trip.content]
    assert kinds == ORDER and trip.stop_reason == "tool_use"
    assert trip.content[1].id == "toolu_01weather1"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_gemini_overrides_and_order(gem: genai.Client, stream: bool) -> None:
    def generate(text: str) -> list[Any]:
        if stream:
            return list(gem.models.generate_content_stream(model="gemini-2.0-flash", contents=text))
        return [gem.models.generate_content(model="gemini-2.0-flash", contents=text)]

    pinned = generate(PINNED)
    assert {c.response_id for c in pinned} == {"chatcmpl-fixture-1"}
    assert {c.model_version for c in pinned} == {"gpt-4o-2024-08-06"}
    last = pinned[-1]
    assert last.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert last.usage_metadata is not None
    assert (last.usage_metadata.prompt_token_count, last.usage_metadata.candidates_token_count) == (100, 7)
    kinds: list[str] = []
    for chunk in generate(TRIP):
        for part in chunk.candidates[0].content.parts or []:
            if part.function_call is not None:
                kinds.append(f"call:{part.function_call.name}")
            elif kinds and kinds[-1].startswith("text:"):
                kinds[-1] += part.text or ""
            else:
                kinds.append(f"text:{part.text}")
    assert kinds == ORDER


@pytest.mark.parametrize(
    ("path", "body", "model_of", "usage_of", "finish_of"),
    [
        (
            "/v1/completions",
            {"model": "gpt-3.5-turbo-instruct", "prompt": PINNED},
            lambda b: b["model"],
            None,  # legacy completions count each prompt themselves: no usage override
            lambda b: (b["choices"][0]["finish_reason"], b["system_fingerprint"]),
        ),
        (
            "/api/chat",
            {"model": "llama3.2", "messages": [{"role": "user", "content": PINNED}], "stream": False},
            lambda b: b["model"],
            lambda b: (b["prompt_eval_count"], b["eval_count"]),
            lambda b: (b["done_reason"], "fp_fixture"),
        ),
        (
            f"/model/{BEDROCK_MODEL}/converse",
            {"messages": [{"role": "user", "content": [{"text": PINNED}]}]},
            lambda b: "gpt-4o-2024-08-06",  # Converse reports no model
            lambda b: (b["usage"]["inputTokens"], b["usage"]["outputTokens"]),
            lambda b: ("length" if b["stopReason"] == "max_tokens" else b["stopReason"], "fp_fixture"),
        ),
    ],
    ids=["completions", "ollama", "bedrock"],
)
def test_other_formats_report_the_overrides(
    live: LiveServer, path: str, body: Any, model_of: Any, usage_of: Any, finish_of: Any
) -> None:
    reply = httpx.post(live.url + path, json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert model_of(data) == "gpt-4o-2024-08-06"
    if usage_of is not None:
        assert usage_of(data) == (100, 7)
    assert finish_of(data) == ("length", "fp_fixture")
