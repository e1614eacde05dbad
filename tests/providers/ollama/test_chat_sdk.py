"""``/api/chat`` through the official ``ollama`` client on a real socket: streams, options, tools, think, format."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import ollama
import pytest

from tests.live import LiveServer, live_server

USER = [{"role": "user", "content": "Tell me about lighthouses."}]
DURATIONS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")


def _check_counts(final: ollama.ChatResponse | ollama.GenerateResponse, limit: int) -> None:
    """The done object's counts and nanosecond durations hang together."""
    assert final.done is True
    assert final.done_reason in ("stop", "length")
    assert final.prompt_eval_count and final.prompt_eval_count > 0
    assert final.eval_count is not None and 0 < final.eval_count <= limit
    values = [getattr(final, name) for name in DURATIONS]
    assert all(isinstance(v, int) and v >= 0 for v in values), values
    total, load, prompt_eval, evaluation = values
    assert total >= load + prompt_eval + evaluation - 3  # each is rounded to the nanosecond on its own
    if final.done_reason == "length":
        assert final.eval_count == limit


def test_chat_answers_with_counts_and_durations(client: ollama.Client) -> None:
    response = client.chat(model="llama3.2", messages=USER, options={"num_predict": 12, "seed": 3})
    assert response.model == "llama3.2"  # echoed as sent, as Ollama does
    assert response.message.role == "assistant"
    assert response.message.content
    assert response.message.tool_calls is None and response.message.thinking is None
    _check_counts(response, 12)


def test_streamed_chat_equals_the_answer_with_the_same_seed(client: ollama.Client) -> None:
    options = {"num_predict": 20, "seed": 11}
    whole = client.chat(model="llama3.2:latest", messages=USER, options=options)
    parts = list(client.chat(model="llama3.2:latest", messages=USER, options=options, stream=True))
    *chunks, final = parts
    assert chunks and all(not part.done and part.message.content for part in chunks)
    assert final.message.content == ""
    assert "".join(part.message.content or "" for part in chunks) == whole.message.content
    assert (final.eval_count, final.done_reason) == (whole.eval_count, whole.done_reason)
    assert final.eval_count == len(chunks)  # one chunk per token
    _check_counts(final, 20)


def test_stream_is_the_default_on_the_wire(http: httpx.Client) -> None:
    response = http.post("/api/chat", json={"model": "llama3.2", "messages": USER, "options": {"num_predict": 4}})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["done"] for line in lines] == [False] * (len(lines) - 1) + [True]
    assert lines[-1]["eval_count"] == len(lines) - 1
    assert all(line["created_at"].endswith("Z") for line in lines)
    plain = http.post("/api/chat", json={"model": "llama3.2", "messages": USER, "stream": False})
    assert plain.headers["content-type"].startswith("application/json")
    assert plain.json()["done"] is True


def test_num_predict_cuts_the_answer_with_length(client: ollama.Client) -> None:
    response = client.chat(model="llama3.2", messages=USER, options={"num_predict": 2, "seed": 5})
    assert (response.eval_count, response.done_reason) == (2, "length")


def test_stop_option_ends_the_text_before_the_sequence(client: ollama.Client) -> None:
    options = {"num_predict": 40, "seed": 21}
    text = client.chat(model="llama3.2", messages=USER, options=options).message.content or ""
    words = text.split()
    assert len(words) > 4
    stop = words[3]
    cut = client.chat(model="llama3.2", messages=USER, options={**options, "stop": [stop]})
    assert cut.message.content == text[: text.index(stop)]
    assert cut.done_reason == "stop"


def test_think_streams_thinking_before_the_answer(client: ollama.Client) -> None:
    parts = list(client.chat(model="qwen3:8b", messages=USER, think=True, stream=True, options={"seed": 2}))
    kinds = [
        "thinking" if p.message.thinking else "content" for p in parts[:-1] if p.message.thinking or p.message.content
    ]
    assert kinds[0] == "thinking" and "content" in kinds
    assert kinds == sorted(kinds, key=lambda k: k == "content")  # all thinking first
    whole = client.chat(model="qwen3:8b", messages=USER, think="low", options={"seed": 2})
    assert whole.message.thinking and whole.message.content
    plain = client.chat(model="qwen3:8b", messages=USER, think=False)
    assert plain.message.thinking is None
    # Left out, ``think`` is on for a model that can think (Ollama's server sets it).
    default = client.chat(model="qwen3:8b", messages=USER, options={"seed": 2})
    assert default.message.thinking and default.message.content


def test_think_on_a_model_without_thinking_is_a_400(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as info:
        client.chat(model="llama3.2", messages=USER, think=True)
    assert info.value.status_code == 400
    assert info.value.error == '"llama3.2" does not support thinking'


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
            "required": ["city", "days"],
        },
    },
}


@pytest.fixture(scope="module")
def tools_client(tools_server: LiveServer) -> Iterator[ollama.Client]:
    with ollama.Client(host=tools_server.url) as c:
        yield c


def test_tool_calls_carry_arguments_as_objects(tools_client: ollama.Client) -> None:
    response = tools_client.chat(model="llama3.2", messages=USER, tools=[WEATHER])
    calls = response.message.tool_calls
    assert calls, response.message
    call = calls[0].function
    assert call.name == "get_weather"
    # The client's Tool model keeps only type, description and enum of each property (it drops
    # minimum and maximum), so the arguments follow the schema the server received.
    assert set(call.arguments) == {"city", "days"}
    assert isinstance(call.arguments["city"], str) and isinstance(call.arguments["days"], int)
    assert response.done_reason == "stop"
    # Streamed: each call arrives whole, in a chunk of its own.
    parts = list(tools_client.chat(model="llama3.2", messages=USER, tools=[WEATHER], stream=True))
    streamed = [c for p in parts for c in p.message.tool_calls or []]
    assert streamed and all(c.function.name == "get_weather" for c in streamed)
    # After the tool's result the model answers in text, as an agent loop needs.
    history: list[Any] = [*USER, response.message, {"role": "tool", "content": "sunny", "tool_name": "get_weather"}]
    answer = tools_client.chat(model="llama3.2", messages=history, tools=[WEATHER])
    assert answer.message.content and not answer.message.tool_calls


def test_python_functions_as_tools(tools_client: ollama.Client) -> None:
    def add(a: int, b: int) -> int:
        """Add two numbers.

        Args:
          a: The first number.
          b: The second number.
        """
        return a + b

    response = tools_client.chat(model="qwen3:8b", messages=USER, tools=[add])
    (call,) = response.message.tool_calls or ()
    assert call.function.name == "add"
    assert set(call.function.arguments) == {"a", "b"}
    assert all(isinstance(v, int) for v in call.function.arguments.values())


def test_format_schema_and_json(client: ollama.Client) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    response = client.chat(model="llama3.2", messages=USER, format=schema, options={"num_predict": 500})
    jsonschema.validate(json.loads(response.message.content or ""), schema)
    generated = client.generate(
        model="llama3.2", prompt="A person as JSON.", format="json", options={"num_predict": 500}
    )
    assert isinstance(json.loads(generated.response or ""), dict)


PACED = """\
latency:
  profiles:
    paced:
      ttft: {type: fixed, value_ms: 120}
      itl: {type: fixed, value_ms: 20}
models:
  add:
    - id: llama3.2:latest
      provider: ollama
      latency_profile: paced
"""


@pytest.fixture(scope="module")
def paced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ollama.Client]:
    path: Path = tmp_path_factory.mktemp("ollama-paced") / "paced.yaml"
    path.write_text(PACED)
    with live_server("--config", str(path)) as live, ollama.Client(host=live.url) as c:
        yield c


def test_durations_come_from_the_simulated_timing(paced: ollama.Client) -> None:
    # TTFT 120 ms, then 20 ms a token: the durations are at least that (a loaded machine only adds).
    ms = 1_000_000
    *_, final = paced.chat(model="llama3.2", messages=USER, stream=True, options={"num_predict": 6, "seed": 1})
    assert final.eval_count == 6
    assert final.prompt_eval_duration is not None and 115 * ms <= final.prompt_eval_duration < 5_000 * ms
    # 5 gaps of 20 ms; tokens are due at fixed offsets from the start, so a late first token
    # (a loaded box) shortens the gaps after it: only the sum is bounded below by the profile.
    assert final.eval_duration is not None and 0 < final.eval_duration < 5_000 * ms
    assert final.prompt_eval_duration + final.eval_duration >= 215 * ms
    whole = paced.chat(model="llama3.2", messages=USER, stream=False, options={"num_predict": 6, "seed": 1})
    assert whole.total_duration is not None and whole.total_duration >= 215 * ms  # 120 + 5 × 20
    assert whole.prompt_eval_duration and whole.eval_duration
    assert whole.prompt_eval_duration + whole.eval_duration >= 215 * ms


def test_tool_arguments_follow_the_whole_schema_on_the_raw_wire(tools_server: LiveServer) -> None:
    body = {"model": "llama3.2", "messages": USER, "tools": [WEATHER], "stream": False}
    for seed in range(5):
        answer = httpx.post(tools_server.url + "/api/chat", json={**body, "options": {"seed": seed}}, timeout=10).json()
        for index, call in enumerate(answer["message"]["tool_calls"]):
            jsonschema.validate(call["function"]["arguments"], WEATHER["function"]["parameters"])  # type: ignore[index]
            # As Ollama's api.ToolCall: an id (``call_`` + 8 lowercase letters or digits), the position.
            assert re.fullmatch(r"call_[a-z0-9]{8}", call["id"]) and call["function"]["index"] == index
