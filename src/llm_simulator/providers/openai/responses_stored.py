"""The Responses API's handlers for responses that already exist: retrieve, cancel, delete.

``GET /v1/responses/{id}`` answers a stored response, a background one's progress, or (with
``stream=true``) replays a background response's events from ``starting_after``.
"""

from __future__ import annotations

import time

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response, StreamResponse
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.openai.common import response_headers, stream_headers
from llm_simulator.providers.openai.responses import MALFORMED_EVENT
from llm_simulator.providers.openai.responses_background import BackgroundJobs
from llm_simulator.providers.openai.responses_render import response_object
from llm_simulator.providers.openai.responses_store import EMPTY_CONVERSATION, ResponseStore


def _stored(store: ResponseStore, request: HttpRequest) -> tuple[str, bytes, str]:
    response_id = request.path_params["response_id"]
    stored = store.get(response_id)
    if stored is None:
        raise SimulatorError(ErrorKind.NOT_FOUND, f"Response with id '{response_id}' not found.", param="response_id")
    return response_id, stored.body, stored.model


def _starting_after(request: HttpRequest) -> int:
    raw = request.query.get("starting_after")
    if raw is None:
        return -1
    try:
        value = int(raw)
    except ValueError:
        value = -2
    if value < -1:
        raise invalid(
            f"Invalid 'starting_after': expected a sequence number, got '{raw}'.",
            param="starting_after",
            code="invalid_value",
        )
    return value


async def retrieve(sim: Simulator, store: ResponseStore, jobs: BackgroundJobs, request: HttpRequest) -> Response:
    """Serve ``GET /v1/responses/{response_id}``: a stored response, or a background one's progress.

    With ``stream=true`` a background response's events are replayed from ``starting_after`` + 1
    and followed to the end.
    """
    started = time.monotonic()
    await store.fetch(request.path_params["response_id"])
    job = jobs.get(request.path_params["response_id"])
    if request.query.get("stream", "false").lower() == "true":
        after = _starting_after(request)
        if job is None:
            _stored(store, request)  # a 404 when unknown
            raise invalid(
                "Only responses created with 'background': true can be streamed again.",
                param="stream",
                code="invalid_value",
            )
        job.check_resumable(after)
        return StreamResponse(
            job.follow(after), stream_headers(request, job.head.model), None, malformed=MALFORMED_EVENT
        )
    if job is not None and not job.done:
        return JsonResponse(200, job.snapshot(), response_headers(request, started, job.head.model))
    _, body, model = _stored(store, request)
    return JsonResponse(200, body, response_headers(request, started, model))


async def cancel(sim: Simulator, store: ResponseStore, jobs: BackgroundJobs, request: HttpRequest) -> Response:
    """Serve ``POST /v1/responses/{response_id}/cancel`` (background responses only; idempotent)."""
    started = time.monotonic()
    response_id = request.path_params["response_id"]
    await store.fetch(response_id)
    job = jobs.get(response_id)
    if job is not None and not job.done:
        if job.task is not None:
            job.task.cancel()
        final = orjson.dumps(response_object(job.head, "cancelled", [], None, None, None))
        store.put(response_id, final, job.head.model, EMPTY_CONVERSATION, job.items, job.items_size)
        job.end("cancelled", final)
        return JsonResponse(200, final, response_headers(request, started, job.head.model))
    _, body, model = _stored(store, request)
    if b'"background":true' not in body[:400]:
        raise invalid("Only responses created with background=true can be cancelled.", code="invalid_value")
    if b'"status":"cancelled"' not in body[:400]:
        raise invalid("Cannot cancel a response that is not in progress.", code="invalid_value")
    return JsonResponse(200, body, response_headers(request, started, model))


async def delete(sim: Simulator, store: ResponseStore, request: HttpRequest) -> Response:
    """Serve ``DELETE /v1/responses/{response_id}``."""
    started = time.monotonic()
    await store.fetch(request.path_params["response_id"])
    response_id, _, model = _stored(store, request)
    store.delete(response_id)
    await store.forget(response_id)
    body = orjson.dumps({"id": response_id, "object": "response.deleted", "deleted": True})
    return JsonResponse(200, body, response_headers(request, started, model))
