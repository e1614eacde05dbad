"""The official SDK clients the misbehaviour and override suites point at one live server."""

from __future__ import annotations

import anthropic
import openai

from tests.live import LiveServer


def strict_openai(live: LiveServer) -> openai.OpenAI:
    """An OpenAI client with no retries that validates every response against its types."""
    return openai.OpenAI(base_url=live.openai_base, api_key="k", max_retries=0, _strict_response_validation=True)


def strict_anthropic(live: LiveServer) -> anthropic.Anthropic:
    """An Anthropic client with no retries that validates every response against its types."""
    return anthropic.Anthropic(base_url=live.url, api_key="k", max_retries=0, _strict_response_validation=True)
