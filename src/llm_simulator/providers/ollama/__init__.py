"""The Ollama native API (``/api/*``): chat, generate, embed, and the local model listings."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.http import JsonResponse, Route
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.ollama import chat, embed, models
from llm_simulator.providers.ollama.common import LoadedModels
from llm_simulator.providers.ollama.errors import render_error

PREFIX = "/api/"


class OllamaProvider:
    """Routes under ``/api`` in Ollama's wire format (NDJSON streams, ``{"error": ...}`` errors)."""

    name = "ollama"

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        # What /api/ps lists: per process, like every other piece of provider state.
        self._loaded = LoadedModels()

    def routes(self) -> list[Route]:
        """Every Ollama route."""
        sim = self._sim
        loaded = self._loaded
        return [
            Route("POST", "/api/chat", partial(chat.handle_chat, sim, loaded), "chat"),
            Route("POST", "/api/generate", partial(chat.handle_generate, sim, loaded), "generate"),
            Route("POST", "/api/embed", partial(embed.handle_embed, sim, loaded), "embedding"),
            Route("POST", "/api/embeddings", partial(embed.handle_embeddings, sim, loaded), "embedding"),
            Route("GET", "/api/tags", partial(models.tags, sim), "models"),
            Route("POST", "/api/show", partial(models.show, sim), "models"),
            Route("GET", "/api/ps", partial(models.ps, sim, loaded), "models"),
            Route("GET", "/api/version", models.version, "version"),
            Route("GET", "/", models.running, "version"),
        ]

    def claims(self, path: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """Every unrouted ``/api/`` path gets Ollama's 404."""
        return path.startswith(PREFIX)

    def render_error(self, error: SimulatorError, request_id: str) -> JsonResponse:
        """Ollama's ``{"error": ...}`` body."""
        return render_error(error, request_id)


__all__ = ["OllamaProvider"]
