"""The one place that knows every provider."""

from __future__ import annotations

from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.anthropic import AnthropicProvider
from llm_simulator.providers.anthropic.vertex import VertexAnthropicProvider
from llm_simulator.providers.base import Provider
from llm_simulator.providers.bedrock import BedrockProvider
from llm_simulator.providers.gemini import GeminiProvider
from llm_simulator.providers.gemini.vertex import VertexGeminiProvider
from llm_simulator.providers.internal import InternalDispatch
from llm_simulator.providers.ollama import OllamaProvider
from llm_simulator.providers.openai import OpenAIProvider


def build_providers(sim: Simulator, dispatch: InternalDispatch | None = None) -> list[Provider]:
    """Every provider, in routing priority order; ``dispatch`` serves batch jobs' requests."""
    dispatch = dispatch or InternalDispatch()
    return [
        AnthropicProvider(sim, dispatch),
        # Before Gemini: its claim on any ``:action`` path would otherwise take Vertex's 404s.
        VertexAnthropicProvider(sim),
        VertexGeminiProvider(sim),
        GeminiProvider(sim, dispatch),
        OllamaProvider(sim),
        BedrockProvider(sim),
        OpenAIProvider(sim, dispatch),
    ]
