"""``GET /v1/responses/{response_id}/input_items``: the items a stored response was made from.

The list holds the response's input items in their stored shape (``id``, ``type``,
``status``, typed content parts; a string ``input`` is one user message), preceded, for a
response made with ``previous_response_id``, by the items of the response it continued and
that response's output items (the whole context, as the API lists it). A response made with
``conversation`` lists this turn's items only (the rest is the conversation's). A background
response lists its items from the moment it is queued. ``store: false`` responses are never
kept, so their ids are a 404 like unknown ones.

Cursor pagination is the shared one (``listing.py``): ``order`` (default ``desc``, newest
first), ``limit`` (1–100, default 20), ``after`` (an item id). ``include`` is checked against
the values ``POST /v1/responses`` accepts; stored items already carry everything those
values could add.
"""

from __future__ import annotations

import time

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.providers.openai.common import response_headers
from llm_simulator.providers.openai.listing import list_limit, list_order, list_page
from llm_simulator.providers.openai.responses_background import BackgroundJobs
from llm_simulator.providers.openai.responses_input import INCLUDABLE
from llm_simulator.providers.openai.responses_store import Items, ResponseStore

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# The SDK sends a list as ``include[]=…`` (its "brackets" array format); curl users send ``include``.
_INCLUDE_KEYS = ("include[]", "include")


def _check_include(request: HttpRequest) -> None:
    for key in _INCLUDE_KEYS:
        value = request.query.get(key)
        if value is not None and value not in INCLUDABLE:
            quoted = ", ".join(f"'{v}'" for v in INCLUDABLE)
            raise invalid(
                f"Invalid value: '{value}'. Supported values are: {quoted}.", param="include", code="invalid_value"
            )


def _items(store: ResponseStore, jobs: BackgroundJobs, response_id: str) -> tuple[Items, str]:
    """The response's input items (oldest first) and its model; a 404 when it is not stored."""
    job = jobs.get(response_id)
    if job is not None and not job.done:
        return job.items, job.head.model
    stored = store.get(response_id)
    if stored is None:
        raise SimulatorError(ErrorKind.NOT_FOUND, f"Response with id '{response_id}' not found.", param="response_id")
    return stored.items, stored.model


async def list_input_items(store: ResponseStore, jobs: BackgroundJobs, request: HttpRequest) -> Response:
    """Serve ``GET /v1/responses/{response_id}/input_items``."""
    started = time.monotonic()
    await store.fetch(request.path_params["response_id"])
    items, model = _items(store, jobs, request.path_params["response_id"])
    limit = list_limit(request, DEFAULT_LIMIT, MAX_LIMIT)
    ordered = list(items) if list_order(request) == "asc" else list(reversed(items))
    _check_include(request)
    page = list_page(ordered, request, limit, lambda item: str(item["id"]), lambda item: item)
    return JsonResponse(200, orjson.dumps(page), response_headers(request, started, model))
