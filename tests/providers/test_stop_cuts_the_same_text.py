"""Across providers: a stop sequence cuts a seeded response short without changing its text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.live import LiveServer

SEED = 1234
PROMPT = "Tell me something long."


def _openai(http: httpx.Client, stop: list[str] | None) -> tuple[str, str]:
    body: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": PROMPT}], "seed": SEED}
    if stop:
        body["stop"] = stop
    choice = http.post("/v1/chat/completions", json={**body, "max_tokens": 200}).json()["choices"][0]
    return choice["message"]["content"], choice["finish_reason"]


def _anthropic(http: httpx.Client, stop: list[str] | None) -> tuple[str, str]:
    body: dict[str, Any] = {
        "model": "claude-haiku-4-5",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    if stop:
        body["stop_sequences"] = stop
    headers = {"anthropic-version": "2023-06-01", "x-simulator-seed": str(SEED)}
    message = http.post("/v1/messages", json=body, headers=headers).json()
    return message["content"][0]["text"], message["stop_reason"]


def _gemini(http: httpx.Client, stop: list[str] | None) -> tuple[str, str]:
    config: dict[str, Any] = {"seed": SEED, "maxOutputTokens": 200}
    if stop:
        config["stopSequences"] = stop
    body = {"contents": [{"parts": [{"text": PROMPT}]}], "generationConfig": config}
    candidate = http.post("/v1beta/models/gemini-2.0-flash:generateContent", json=body).json()["candidates"][0]
    return candidate["content"]["parts"][0]["text"], candidate["finishReason"]


Call = Callable[[httpx.Client, list[str] | None], tuple[str, str]]
STOP_REASON = {"openai": "stop", "anthropic": "stop_sequence", "gemini": "STOP"}


@pytest.mark.parametrize(("provider", "call"), [("openai", _openai), ("anthropic", _anthropic), ("gemini", _gemini)])
def test_a_stop_sequence_cuts_the_seeded_text(fast_server: LiveServer, provider: str, call: Call) -> None:
    with httpx.Client(base_url=fast_server.url, timeout=30) as http:
        whole, _ = call(http, None)
        words = whole.split()
        assert len(words) >= 6, whole
        stop = " " + words[len(words) // 2]
        cut, reason = call(http, [stop])
    assert cut == whole[: whole.index(stop)]
    assert reason == STOP_REASON[provider]
