"""Provider names and the defaults every client uses when the caller names no model."""

from __future__ import annotations

from typing import Literal

Provider = Literal["openai", "anthropic", "gemini"]
PROVIDERS: tuple[Provider, ...] = ("openai", "anthropic", "gemini")

# Current, generally available models (no retired or preview ids): a default that the real
# API has retired would make `benchmark` or `client` fail against it for no reason of the user's.
DEFAULT_MODELS: dict[Provider, str] = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    # Flash-Lite: current, and it does not think unless asked (2.5 Flash does, and its
    # thinking counts against max tokens: a 64-token benchmark request would show no text).
    "gemini": "gemini-2.5-flash-lite",
}
# Anthropic has no embeddings API.
DEFAULT_EMBEDDING_MODELS: dict[Provider, str] = {
    "openai": "text-embedding-3-small",
    "gemini": "gemini-embedding-001",
}
# Anthropic requires max_tokens on every request; the others default it server-side.
ANTHROPIC_DEFAULT_MAX_TOKENS = 1024
ANTHROPIC_VERSION = "2023-06-01"
# The variable each vendor's own SDK reads its key from.
API_KEY_ENV: dict[Provider, str] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
}


def check_provider(provider: str) -> Provider:
    """``provider`` if it is one the clients speak, else a ValueError naming the choices."""
    for known in PROVIDERS:
        if provider == known:
            return known
    raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}; got {provider!r}")


# The load generator speaks two wires more than the SDK and the ``client``/``generate``
# commands: Ollama's native API (``/api/chat``, NDJSON streams) and AWS Bedrock's Converse
# (its stream in AWS event-stream framing), authenticated with a Bedrock API key as a bearer
# token (unsigned: no SigV4 on the measured path).
LoadProvider = Literal["openai", "anthropic", "gemini", "ollama", "bedrock"]
LOAD_PROVIDERS: tuple[LoadProvider, ...] = (*PROVIDERS, "ollama", "bedrock")
LOAD_DEFAULT_MODELS: dict[LoadProvider, str] = {
    "openai": DEFAULT_MODELS["openai"],
    "anthropic": DEFAULT_MODELS["anthropic"],
    "gemini": DEFAULT_MODELS["gemini"],
    "ollama": "llama3.2",
    "bedrock": "anthropic.claude-haiku-4-5-20251001-v1:0",
}
LOAD_API_KEY_ENV: dict[LoadProvider, str] = {
    "openai": API_KEY_ENV["openai"],
    "anthropic": API_KEY_ENV["anthropic"],
    "gemini": API_KEY_ENV["gemini"],
    # Read by the ollama client (a local server needs none; Ollama's cloud and proxies do).
    "ollama": "OLLAMA_API_KEY",
    "bedrock": "AWS_BEARER_TOKEN_BEDROCK",
}
