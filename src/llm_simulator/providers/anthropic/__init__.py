"""The Anthropic Messages API: messages, token counting, message batches and models."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.http import JsonResponse, Route
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.anthropic import batches, messages, models
from llm_simulator.providers.anthropic.errors import render_error
from llm_simulator.providers.batch_runner import BatchRunner
from llm_simulator.providers.internal import InternalDispatch

VERSION_HEADER = "anthropic-version"


def is_anthropic(headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    """Whether a request on a path shared with OpenAI is Anthropic's (its SDK always sends the version)."""
    return VERSION_HEADER in headers


class AnthropicProvider:
    """Routes under ``/v1`` in Anthropic's wire format (``?beta=true`` is served the same)."""

    name = "anthropic"

    def __init__(self, sim: Simulator, dispatch: InternalDispatch | None = None) -> None:
        self._sim = sim
        self._dispatch = dispatch or InternalDispatch()

    def routes(self) -> list[Route]:
        """Every Anthropic route; the models routes only for requests carrying ``anthropic-version``."""
        sim = self._sim
        # Message batches, per process (run one worker when batches matter).
        limits = sim.config.batches
        service = batches.MessageBatchService(sim.clock, BatchRunner(self._dispatch, limits), limits)
        one = "/v1/messages/batches/{message_batch_id}"
        return [
            Route("POST", "/v1/messages", partial(messages.handle, sim), "messages"),
            Route("POST", "/v1/messages/count_tokens", partial(messages.count_tokens, sim), "count_tokens"),
            Route("POST", "/v1/messages/batches", partial(batches.create, service), "batches"),
            Route("GET", "/v1/messages/batches", partial(batches.list_batches, service), "batches"),
            Route("GET", one, partial(batches.retrieve, service), "batches"),
            Route("DELETE", one, partial(batches.delete, service), "batches"),
            Route("POST", f"{one}/cancel", partial(batches.cancel, service), "batches"),
            Route("GET", f"{one}/results", partial(batches.results, service), "batches"),
            Route("GET", "/v1/models", partial(models.list_models, sim), "models", is_anthropic),
            Route("GET", "/v1/models/{model:path}", partial(models.retrieve_model, sim), "models", is_anthropic),
        ]

    def claims(self, path: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """Unrouted requests from Anthropic clients get Anthropic's 404."""
        return VERSION_HEADER in headers

    def render_error(self, error: SimulatorError, request_id: str) -> JsonResponse:
        """Anthropic's error body."""
        return render_error(error, request_id)


__all__ = ["AnthropicProvider"]
