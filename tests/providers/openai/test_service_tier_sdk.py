"""``service_tier``: one of the API's tiers or a 400; chat and the Responses API report the tier they served on."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.live import LiveServer
from tests.providers.openai.helpers import assert_openai_error

ASK: list[Any] = [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize("tier", ["ultra", "Flex", ""])
@pytest.mark.parametrize(
    ("path", "body"),
    [("/chat/completions", {"messages": ASK}), ("/responses", {"input": "Hi"})],
)
def test_an_unknown_tier_is_a_400_naming_the_allowed_ones(
    server: LiveServer, tier: str, path: str, body: dict[str, Any]
) -> None:
    response = httpx.post(server.openai_base + path, json={"model": "gpt-4o", "service_tier": tier, **body})
    error = assert_openai_error(response, 400, param="service_tier", code="invalid_value")
    assert error["message"].startswith(f"Invalid value: '{tier}'. Supported values are: 'auto', 'default'")
    assert error["message"].endswith(" and 'ultrafast'." if path == "/responses" else "'priority' and 'fast'.")


def test_chat_has_no_ultrafast_tier(server: LiveServer) -> None:
    body = {"model": "gpt-4o", "messages": ASK, "service_tier": "ultrafast"}
    assert_openai_error(httpx.post(server.openai_base + "/chat/completions", json=body), 400, param="service_tier")


@pytest.mark.parametrize(
    ("tier", "served"),
    # Fast mode is served and reported as priority (the SDK's documentation of the parameter).
    [("flex", "flex"), ("priority", "priority"), ("auto", "default"), ("fast", "priority"), ("ultrafast", "ultrafast")],
)
def test_responses_report_the_tier_they_were_served_on(client: openai.OpenAI, tier: Any, served: str) -> None:
    response = client.responses.create(model="gpt-4o", input="Hi", service_tier=tier, max_output_tokens=16)
    assert response.service_tier == served


@pytest.mark.parametrize(
    ("tier", "served"),
    [
        ("auto", "default"),
        ("default", "default"),
        ("flex", "flex"),
        ("scale", "scale"),
        ("priority", "priority"),
        ("fast", "priority"),
        (None, "default"),
    ],
)
def test_chat_reports_the_tier_it_was_served_on(client: openai.OpenAI, tier: Any, served: str) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=ASK, service_tier=tier, max_tokens=4)
    assert completion.choices and completion.service_tier == served
    chunks = list(
        client.chat.completions.create(model="gpt-4o", messages=ASK, service_tier=tier, max_tokens=4, stream=True)
    )
    assert chunks and {chunk.service_tier for chunk in chunks} == {served}
