"""The one place that knows every provider."""

from __future__ import annotations

from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.base import Provider
from llm_simulator.providers.openai import OpenAIProvider


def build_providers(sim: Simulator) -> list[Provider]:
    """Every provider, in routing priority order."""
    return [OpenAIProvider(sim)]
