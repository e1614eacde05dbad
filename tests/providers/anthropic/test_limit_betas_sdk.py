"""Betas that raise a model's limits (``anthropic-beta``), through the official SDK's ``betas``."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from tests.providers.anthropic.helpers import assert_anthropic_error

ASK: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Hi"}]
# A prompt over Sonnet 4.5's 200,000-token window: one token per repeated word.
LONG = " hello" * 210_000


def test_output_128k_raises_claude_3_7s_output_limit(http: httpx.Client) -> None:
    body = {"model": "claude-3-7-sonnet-20250219", "max_tokens": 100_000, "messages": ASK}
    error = assert_anthropic_error(http.post("/v1/messages", json=body), 400, "invalid_request_error")
    assert "max_tokens: 100000 > 64000" in error["message"]
    raised = http.post("/v1/messages", json=body, headers={"anthropic-beta": "output-128k-2025-02-19"})
    assert raised.status_code == 200, raised.text


def test_context_1m_raises_sonnet_4_5s_window(anthropic_client: anthropic.Anthropic) -> None:
    turns: list[anthropic.types.beta.BetaMessageParam] = [{"role": "user", "content": LONG}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client.beta.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=turns)
    assert "prompt is too long" in caught.value.message
    reply = anthropic_client.beta.messages.create(
        model="claude-sonnet-4-5", max_tokens=8, messages=turns, betas=["context-1m-2025-08-07"]
    )
    assert reply.usage.input_tokens > 200_000


def test_a_limit_beta_for_another_model_changes_nothing(http: httpx.Client) -> None:
    body = {"model": "claude-opus-4-1-20250805", "max_tokens": 40_000, "messages": ASK}
    headers = {"anthropic-beta": "output-128k-2025-02-19, context-1m-2025-08-07"}
    error = assert_anthropic_error(http.post("/v1/messages", json=body, headers=headers), 400, "invalid_request_error")
    assert "max_tokens: 40000 > 32000" in error["message"]
