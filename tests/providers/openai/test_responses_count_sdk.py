"""``POST /v1/responses/input_tokens`` through the official SDK: the count a response would be charged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.live import LiveServer
from tests.providers.openai.helpers import assert_openai_error

TOOLS: list[Any] = [
    {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
KNOWN: dict[str, Any] = {
    "model": "gpt-4o",
    "input": [{"role": "user", "content": "What's the weather in Paris, and in Rome?"}],
    "instructions": "Answer in one line.",
    "tools": TOOLS,
}


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    """A plain httpx client on the OpenAI base URL."""
    with httpx.Client(base_url=server.openai_base, timeout=30) as c:
        yield c


def test_the_count_is_what_the_response_is_charged(client: openai.OpenAI) -> None:
    counted = client.responses.input_tokens.count(**KNOWN)
    assert counted.object == "response.input_tokens"
    created = client.responses.create(**KNOWN, max_output_tokens=16)
    assert created.usage is not None
    assert counted.input_tokens == created.usage.input_tokens > 0
    # Each part counts: the same input without instructions and tools costs less.
    bare = client.responses.input_tokens.count(model="gpt-4o", input=KNOWN["input"])
    assert 0 < bare.input_tokens < counted.input_tokens


def test_the_context_of_a_previous_response_is_counted(client: openai.OpenAI) -> None:
    first = client.responses.create(model="gpt-4o", input="Name a colour.", max_output_tokens=16)
    follow: dict[str, Any] = {"model": "gpt-4o", "input": "And another?", "previous_response_id": first.id}
    counted = client.responses.input_tokens.count(**follow)
    created = client.responses.create(**follow, max_output_tokens=16)
    assert created.usage is not None and counted.input_tokens == created.usage.input_tokens
    # Without input, the context alone: less than with the new turn.
    context_only = client.responses.input_tokens.count(model="gpt-4o", previous_response_id=first.id)
    assert 0 < context_only.input_tokens < counted.input_tokens


def test_without_a_model_the_count_still_answers(client: openai.OpenAI) -> None:
    assert client.responses.input_tokens.count(input="Hello there").input_tokens > 0


@pytest.mark.parametrize(
    ("body", "status", "param", "code"),
    [
        ({"model": "gpt-nope", "input": "hi"}, 400, "model", "model_not_found"),
        ({"model": "gpt-4o", "input": 7}, 400, "input", "invalid_type"),
        (
            {"model": "gpt-4o", "input": "hi", "previous_response_id": "resp_gone"},
            400,
            "previous_response_id",
            "previous_response_not_found",
        ),
        ({"model": "gpt-4o", "input": "hi", "truncation": "sometimes"}, 400, "truncation", "invalid_value"),
    ],
)
def test_bad_input_gets_the_responses_errors(
    http: httpx.Client, body: dict[str, Any], status: int, param: str, code: str
) -> None:
    assert_openai_error(http.post("/responses/input_tokens", json=body), status, param=param, code=code)


def test_a_count_is_never_stored_or_listed(http: httpx.Client) -> None:
    response = http.post("/responses/input_tokens", json={"model": "gpt-4o", "input": "hi"})
    assert response.status_code == 200 and set(response.json()) == {"object", "input_tokens"}
    assert response.headers["x-request-id"]
    # The path is the count's own (POST), not a stored response's id.
    assert_openai_error(http.get("/responses/input_tokens"), 405, param=None)


def test_an_input_over_the_window_is_counted_but_not_answered(http: httpx.Client) -> None:
    # gpt-4 has an 8,192-token window: ≈ 12,000 tokens of input overflow it.
    long = {"model": "gpt-4", "input": "word " * 12_000}
    counted = http.post("/responses/input_tokens", json=long)
    assert counted.status_code == 200 and counted.json()["input_tokens"] > 8_192
    refused = http.post("/responses", json=long)
    error = assert_openai_error(refused, 400, param="input", code="context_length_exceeded")
    assert error["message"].startswith("Your input exceeds the context window of this model.")
