"""Claude on Vertex AI through ``anthropic.AnthropicVertex`` (an access token given, nothing fetched).

The client posts ``/v1/projects/{p}/locations/{r}/publishers/anthropic/models/{model}:rawPredict``
(``:streamRawPredict`` for streams, ``count-tokens:rawPredict`` to count) with the model out of
the body and ``anthropic_version`` in it. The model's refusals are Anthropic-shaped; the
platform's (unknown model, token, quota, outage) Google-shaped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.live import LiveServer, live_server
from tests.providers.conftest import VERTEX_LIMITED_KEY

PROJECT = "sim-project"
REGION = "us-east5"
TOKEN = "ya29.vertex-token"
MODEL = "claude-sonnet-4-5@20250929"
MESSAGES: list[Any] = [{"role": "user", "content": "Tell me a story."}]
PREFIX = f"/v1/projects/{PROJECT}/locations/{REGION}/publishers/anthropic/models"
SEED = {"x-simulator-seed": "12"}


def _vertex(url: str, token: str = TOKEN) -> anthropic.AnthropicVertex:
    return anthropic.AnthropicVertex(
        region=REGION, project_id=PROJECT, access_token=token, base_url=url + "/v1", max_retries=0
    )


@pytest.fixture(scope="module")
def vertex(server: LiveServer) -> Iterator[anthropic.AnthropicVertex]:
    with _vertex(server.url) as client:
        yield client


def test_messages_and_streams(vertex: anthropic.AnthropicVertex) -> None:
    message = vertex.messages.create(model=MODEL, max_tokens=24, messages=MESSAGES, extra_headers=SEED)
    assert message.model == "claude-sonnet-4-5-20250929"  # Vertex's name@version is the dated id
    assert message.content and message.content[0].type == "text"
    assert 0 < message.usage.output_tokens <= 24
    with vertex.messages.stream(model=MODEL, max_tokens=24, messages=MESSAGES, extra_headers=SEED) as stream:
        final = stream.get_final_message()
    assert [block.model_dump(include={"type", "text"}) for block in final.content] == [
        block.model_dump(include={"type", "text"}) for block in message.content
    ]
    assert final.stop_reason == message.stop_reason


def test_undated_alias_and_tools(vertex: anthropic.AnthropicVertex) -> None:
    tool: Any = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
    message = vertex.messages.create(
        model="claude-haiku-4-5", max_tokens=200, messages=MESSAGES, tools=[tool], tool_choice={"type": "any"}
    )
    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content][-1] == "tool_use"


def test_count_tokens_equals_the_messages_api(vertex: anthropic.AnthropicVertex, server: LiveServer) -> None:
    counted = vertex.messages.count_tokens(model=MODEL, messages=MESSAGES, system="Be brief.")
    with anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0) as direct:
        expected = direct.messages.count_tokens(
            model="claude-sonnet-4-5-20250929", messages=MESSAGES, system="Be brief."
        )
    assert counted.input_tokens == expected.input_tokens > 0


def test_no_anthropic_rate_limit_headers_on_vertex(server: LiveServer) -> None:
    body = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 4, "messages": MESSAGES}
    response = httpx.post(f"{server.url}{PREFIX}/{MODEL}:rawPredict", json=body, timeout=10)
    assert response.status_code == 200
    assert response.json()["type"] == "message"
    assert not [name for name in response.headers if name.startswith("anthropic-ratelimit")]


def test_unknown_model_is_the_platforms_404(vertex: anthropic.AnthropicVertex) -> None:
    with pytest.raises(anthropic.NotFoundError) as info:
        vertex.messages.create(model="claude-nope@20990101", max_tokens=4, messages=MESSAGES)
    body: Any = info.value.body
    assert body["error"]["status"] == "NOT_FOUND"
    assert "publishers/anthropic/models/claude-nope@20990101" in body["error"]["message"]


def test_the_models_refusal_is_anthropic_shaped(vertex: anthropic.AnthropicVertex) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        vertex.messages.create(model=MODEL, max_tokens=0, messages=MESSAGES)
    body: Any = info.value.body
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("target", "body", "status", "fragment"),
    [
        (f"{MODEL}:rawPredict", {"max_tokens": 4, "messages": MESSAGES}, 400, "anthropic_version: Field required"),
        (
            f"{MODEL}:rawPredict",
            {"anthropic_version": "v1", "max_tokens": 4, "messages": MESSAGES},
            400,
            "Input should be",
        ),
        (f"{MODEL}:predict", {}, 404, "Method not found"),
        (MODEL, {}, 404, "Method not found"),
        (f"{MODEL}:rawPredict", {"anthropic_version": "vertex-2023-10-16", "messages": MESSAGES}, 400, "max_tokens"),
        (
            "count-tokens:rawPredict",
            {"anthropic_version": "vertex-2023-10-16", "model": "nope@1", "messages": MESSAGES},
            404,
            "",
        ),
    ],
)
def test_bad_input(fast_server: LiveServer, target: str, body: dict[str, Any], status: int, fragment: str) -> None:
    response = httpx.post(f"{fast_server.url}{PREFIX}/{target}", json=body, timeout=10)
    assert response.status_code == status, response.text
    payload = response.json()
    message = payload["error"]["message"]
    # Invalid requests are the model's answer (Anthropic's shape); the rest the platform's (Google's).
    if status == 400:
        assert payload["type"] == "error"
    elif "status" in payload["error"]:
        assert payload["error"]["status"] == "NOT_FOUND"
    assert fragment in message


def test_quota_and_outage_are_google_shaped(vertex_limited_server: LiveServer) -> None:
    httpx.post(vertex_limited_server.url + "/admin/rate-limits/reset", timeout=5).raise_for_status()
    with _vertex(vertex_limited_server.url, VERTEX_LIMITED_KEY) as client:
        client.messages.create(model=MODEL, max_tokens=4, messages=MESSAGES)
        with pytest.raises(anthropic.RateLimitError) as info:
            client.messages.create(model=MODEL, max_tokens=4, messages=MESSAGES)
    body: Any = info.value.body
    assert body["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert (
        "online_prediction_requests_per_base_model with base model: anthropic-claude-sonnet-4-5"
        in (body["error"]["message"])
    )
    with _vertex(vertex_limited_server.url) as client, pytest.raises(anthropic.InternalServerError) as outage:
        client.messages.create(
            model=MODEL, max_tokens=4, messages=MESSAGES, extra_headers={"x-simulator-chaos": "error=unavailable"}
        )
    assert outage.value.status_code == 503
    assert outage.value.body["error"]["status"] == "UNAVAILABLE"  # type: ignore[index]


def test_stream_error_event_is_anthropics(vertex_limited_server: LiveServer) -> None:
    texts: list[str] = []
    chaos = {"x-simulator-chaos": "fault=error_event; after=3"}
    with (
        _vertex(vertex_limited_server.url) as client,
        client.messages.stream(model=MODEL, max_tokens=30, messages=MESSAGES, extra_headers=chaos) as stream,
        pytest.raises(anthropic.APIStatusError),
    ):
        texts.extend(stream.text_stream)
    assert len(texts) == 3


@pytest.fixture(scope="module")
def auth_server() -> Iterator[LiveServer]:
    with live_server("--no-latency", "--require-auth", "--api-key", TOKEN) as live:
        yield live


def test_access_token_is_checked_with_require_auth(auth_server: LiveServer) -> None:
    with _vertex(auth_server.url) as client:
        assert client.messages.create(model=MODEL, max_tokens=4, messages=MESSAGES).content
    with _vertex(auth_server.url, "expired") as client, pytest.raises(anthropic.AuthenticationError) as info:
        client.messages.create(model=MODEL, max_tokens=4, messages=MESSAGES)
    body: Any = info.value.body
    assert body["error"]["status"] == "UNAUTHENTICATED"
