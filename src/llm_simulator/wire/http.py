"""How each provider authenticates, and where Gemini's endpoints live."""

from __future__ import annotations

from urllib.parse import quote

from llm_simulator.wire.defaults import ANTHROPIC_VERSION, LoadProvider


def auth_headers(provider: LoadProvider, api_key: str | None) -> dict[str, str]:
    """The header each provider reads its key from (none without a key), plus Anthropic's version.

    Ollama and Bedrock (its API keys), like OpenAI, take ``Authorization: Bearer`` (a local
    Ollama server checks none).
    """
    headers = {"anthropic-version": ANTHROPIC_VERSION} if provider == "anthropic" else {}
    if api_key is None:
        return headers
    if provider == "anthropic":
        headers["x-api-key"] = api_key
    elif provider == "gemini":
        headers["x-goog-api-key"] = api_key
    else:
        headers["authorization"] = f"Bearer {api_key}"
    return headers


def gemini_path(model: str, action: str) -> str:
    """``/v1beta/models/{model}:{action}`` (a ``models/`` prefix on ``model`` is accepted)."""
    return f"/v1beta/models/{quote(model.removeprefix('models/'), safe='-._~')}:{action}"
