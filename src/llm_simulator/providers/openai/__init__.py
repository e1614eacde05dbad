"""The OpenAI API: chat completions, legacy completions, embeddings and models."""

from __future__ import annotations

from functools import partial

from llm_simulator.core.errors import SimulatorError
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.base import JsonResponse, Route
from llm_simulator.providers.openai import chat, completions, embeddings, models
from llm_simulator.providers.openai.errors import render_error


class OpenAIProvider:
    """Routes under ``/v1`` in OpenAI's wire format."""

    name = "openai"

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def routes(self) -> list[Route]:
        """Every OpenAI route."""
        sim = self._sim
        return [
            Route("POST", "/v1/chat/completions", partial(chat.handle, sim), "chat"),
            Route("POST", "/v1/completions", partial(completions.handle, sim), "completion"),
            Route("POST", "/v1/embeddings", partial(embeddings.handle, sim), "embedding"),
            Route("GET", "/v1/models", partial(models.list_models, sim), "models"),
            Route("GET", "/v1/models/{model:path}", partial(models.retrieve_model, sim), "models"),
        ]

    def render_error(self, error: SimulatorError, request_id: str) -> JsonResponse:
        """OpenAI's error body."""
        return render_error(error, request_id)


__all__ = ["OpenAIProvider"]
