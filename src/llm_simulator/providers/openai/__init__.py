"""The OpenAI API: chat, responses, legacy completions, embeddings, models, files, batches, media, Azure."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.http import Handler, JsonResponse, Route
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.batch_runner import BatchRunner
from llm_simulator.providers.internal import InternalDispatch
from llm_simulator.providers.openai import (
    audio,
    azure,
    batches,
    chat,
    completions,
    conversations,
    embeddings,
    files,
    image_edits,
    images,
    models,
    moderations,
    realtime_secrets,
    responses,
    responses_count,
    responses_items,
    responses_stored,
)
from llm_simulator.providers.openai.conversations import ConversationStore
from llm_simulator.providers.openai.errors import render_error
from llm_simulator.providers.openai.files import FileStore
from llm_simulator.providers.openai.responses_background import BackgroundJobs
from llm_simulator.providers.openai.responses_store import ResponseStore

AZURE = "/openai/deployments/{deployment}"
AZURE_RESPONSES = "/openai/responses"
AZURE_V1 = "/openai/v1"
AZURE_V1_RESPONSES = f"{AZURE_V1}/responses"
RESPONSE = "/v1/responses/{response_id}"
CONV = "/v1/conversations/{conversation_id}"


def _as_is(handler: Handler) -> Handler:
    return handler


class OpenAIProvider:
    """Routes under ``/v1`` in OpenAI's wire format, and Azure OpenAI's deployment routes."""

    name = "openai"

    def __init__(self, sim: Simulator, dispatch: InternalDispatch | None = None) -> None:
        self._sim = sim
        self._dispatch = dispatch or InternalDispatch()
        # Ephemeral Realtime keys: minted here, honoured by the WebSocket handshake (server/websocket).
        self.client_secrets = realtime_secrets.ClientSecrets(sim.clock)

    def routes(self) -> list[Route]:
        """Every OpenAI route."""
        sim = self._sim
        # Stored responses (``previous_response_id``, ``GET /v1/responses/{id}``): per process,
        # and fleet-wide with a shared state backend.
        stores = sim.state.stores
        guard = stores.guard
        store = ResponseStore(
            sim.clock,
            shared=stores.responses if stores.shared else None,
            shared_up=(lambda: guard.up) if guard is not None else (lambda: True),
        )
        jobs = BackgroundJobs(sim.clock, self._dispatch, sim.config.batches.background_time_scale)
        talks = ConversationStore(sim.clock)
        # Uploaded files and batch jobs, per process (run one worker when batches matter).
        limits = sim.config.batches
        file_store = FileStore(sim.clock, limits)
        batch_service = batches.BatchService(sim.clock, file_store, BatchRunner(self._dispatch, limits), limits)
        image_store = images.ImageStore()
        return [
            Route("POST", "/v1/chat/completions", partial(chat.handle, sim), "chat"),
            Route(
                "POST",
                "/v1/realtime/client_secrets",
                partial(realtime_secrets.create, self.client_secrets),
                "realtime_client_secrets",
            ),
            Route("POST", "/v1/responses", partial(responses.create, sim, store, jobs, talks), "responses"),
            Route("POST", "/v1/responses/input_tokens", partial(responses_count.count, sim, store, talks), "responses"),
            Route(
                "GET", "/v1/responses/{response_id}", partial(responses_stored.retrieve, sim, store, jobs), "responses"
            ),
            Route(
                "POST",
                "/v1/responses/{response_id}/cancel",
                partial(responses_stored.cancel, sim, store, jobs),
                "responses",
            ),
            Route("DELETE", "/v1/responses/{response_id}", partial(responses_stored.delete, sim, store), "responses"),
            Route(
                "GET", f"{RESPONSE}/input_items", partial(responses_items.list_input_items, store, jobs), "responses"
            ),
            Route("POST", "/v1/conversations", partial(conversations.create, sim, talks), "conversations"),
            Route("GET", f"{CONV}", partial(conversations.retrieve, talks), "conversations"),
            Route("POST", f"{CONV}", partial(conversations.update, talks), "conversations"),
            Route("DELETE", f"{CONV}", partial(conversations.delete, talks), "conversations"),
            Route("GET", f"{CONV}/items", partial(conversations.list_items, talks), "conversations"),
            Route("POST", f"{CONV}/items", partial(conversations.create_items, sim, talks), "conversations"),
            Route("GET", f"{CONV}/items/{{item_id}}", partial(conversations.retrieve_item, talks), "conversations"),
            Route("DELETE", f"{CONV}/items/{{item_id}}", partial(conversations.delete_item, talks), "conversations"),
            Route("POST", "/v1/completions", partial(completions.handle, sim), "completion"),
            Route("POST", "/v1/embeddings", partial(embeddings.handle, sim), "embedding"),
            Route("POST", "/v1/moderations", partial(moderations.handle, sim), "moderation"),
            Route("POST", "/v1/images/generations", partial(images.generate, sim, image_store), "image"),
            Route("GET", "/v1/images/files/{image_id}", partial(images.retrieve, image_store), "image"),
            Route("POST", "/v1/images/edits", partial(image_edits.edit, sim, image_store), "image"),
            Route("POST", "/v1/images/variations", partial(image_edits.variation, sim, image_store), "image"),
            Route("POST", "/v1/audio/speech", partial(audio.speech, sim), "speech"),
            Route("POST", "/v1/audio/transcriptions", partial(audio.transcriptions, sim), "transcription"),
            Route("POST", "/v1/audio/translations", partial(audio.translations, sim), "translation"),
            Route("GET", "/v1/models", partial(models.list_models, sim), "models"),
            Route("GET", "/v1/models/{model:path}", partial(models.retrieve_model, sim), "models"),
            Route("POST", "/v1/files", partial(files.upload, file_store), "files"),
            Route("GET", "/v1/files", partial(files.list_files, file_store), "files"),
            Route("GET", "/v1/files/{file_id}", partial(files.retrieve, file_store), "files"),
            Route("DELETE", "/v1/files/{file_id}", partial(files.delete, file_store), "files"),
            Route("GET", "/v1/files/{file_id}/content", partial(files.content, file_store), "files"),
            Route("POST", "/v1/batches", partial(batches.create, batch_service), "batches"),
            Route("GET", "/v1/batches", partial(batches.list_batches, batch_service), "batches"),
            Route("GET", "/v1/batches/{batch_id}", partial(batches.retrieve, batch_service), "batches"),
            Route("POST", "/v1/batches/{batch_id}/cancel", partial(batches.cancel, batch_service), "batches"),
            *(
                Route("POST", f"{prefix}/{path}", partial(handler, sim, body_of), kind)
                for prefix, body_of in ((AZURE, azure.deployment_body), (AZURE_V1, azure.v1_body))
                for path, handler, kind in (
                    ("chat/completions", azure.chat_completions, "chat"),
                    ("completions", azure.legacy_completions, "completion"),
                    ("embeddings", azure.create_embeddings, "embedding"),
                )
            ),
            *self._azure_responses(store, jobs, talks),
        ]

    def _azure_responses(self, store: ResponseStore, jobs: BackgroundJobs, talks: ConversationStore) -> list[Route]:
        """The Responses API at Azure's ``/openai/responses`` (with ``api-version``) and ``/openai/v1/responses``."""
        sim = self._sim
        handlers: list[tuple[str, str, Handler]] = [
            ("POST", "", partial(azure.create_response, sim, store, jobs, talks)),
            ("GET", "/{response_id}", partial(responses_stored.retrieve, sim, store, jobs)),
            ("DELETE", "/{response_id}", partial(responses_stored.delete, sim, store)),
            ("POST", "/{response_id}/cancel", partial(responses_stored.cancel, sim, store, jobs)),
            ("GET", "/{response_id}/input_items", partial(responses_items.list_input_items, store, jobs)),
        ]
        return [
            Route(method, prefix + suffix, wrap(handler), "responses")
            for prefix, wrap in ((AZURE_RESPONSES, azure.versioned), (AZURE_V1_RESPONSES, _as_is))
            for method, suffix, handler in handlers
        ]

    def claims(self, path: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """OpenAI's shape is the default for unrouted requests; it claims none explicitly."""
        return False

    def render_error(self, error: SimulatorError, request_id: str) -> JsonResponse:
        """OpenAI's error body."""
        return render_error(error, request_id)


__all__ = ["OpenAIProvider"]
