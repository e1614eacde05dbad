"""``GET /v1/models`` and ``/v1/models/{id}`` in Anthropic's shape (Claude models, newest first)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

import orjson

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.anthropic.common import PROVIDER, json_headers

DEFAULT_LIMIT = 20
MODEL_LINES = ("haiku", "sonnet", "opus", "fable", "mythos")
MAX_LIMIT = 1000


def model_line(model_id: str) -> str | None:
    """The model line (``opus``, ``sonnet``…) named in a Claude id, or None."""
    parts = model_id.split("-")
    return next((line for line in MODEL_LINES if line in parts), None)


def model_info(spec: ModelSpec) -> dict[str, Any]:
    """One ``ModelInfo`` object."""
    created = datetime.datetime.fromtimestamp(spec.created, datetime.UTC)
    return {
        "type": "model",
        "id": spec.id,
        "display_name": spec.display_name or spec.id,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lifecycle": "active",
        "line": model_line(spec.id),
        "max_input_tokens": spec.context_window,
        "max_tokens": spec.max_output_tokens,
    }


def _claude_models(sim: Simulator) -> list[ModelSpec]:
    models = [m for m in sim.catalogue.list_models(PROVIDER) if not m.is_embedding]
    return sorted(models, key=lambda m: (-m.created, m.id))


def _limit(query: Mapping[str, str]) -> int:
    raw = query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    # ASCII digits only: str.isdigit() also accepts "²", which int() rejects.
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid(f"limit: Input should be an integer between 1 and {MAX_LIMIT}, got {raw!r}", param="limit")
    return int(raw)


async def list_models(sim: Simulator, request: HttpRequest) -> Response:
    """A page of Claude models, paginated by ``limit`` and ``after_id`` / ``before_id``."""
    models = _claude_models(sim)
    ids = [m.id for m in models]
    limit = _limit(request.query)
    after, before = request.query.get("after_id"), request.query.get("before_id")
    for name, cursor in (("after_id", after), ("before_id", before)):
        if cursor is not None and cursor not in ids:
            raise invalid(f"{name}: unknown model id {cursor!r}", param=name)
    if before is not None:
        end = ids.index(before)
        page = models[max(0, end - limit) : end]
        has_more = end - limit > 0
    else:
        start = ids.index(after) + 1 if after is not None else 0
        page = models[start : start + limit]
        has_more = start + limit < len(models)
    body = {
        "data": [model_info(m) for m in page],
        "has_more": has_more,
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
    }
    return JsonResponse(200, orjson.dumps(body), json_headers(request))


async def retrieve_model(sim: Simulator, request: HttpRequest) -> Response:
    """One Claude model by id or alias (an alias answers with the model it points at).

    Only the models the listing shows exist here: another provider's id is a 404, as in the API.
    """
    model_id = request.path_params["model"]
    spec = sim.catalogue.lookup(model_id)
    if spec is None or spec.is_embedding or spec.provider != PROVIDER:
        raise SimulatorError(ErrorKind.NOT_FOUND, f"model: {model_id}", param="model", code="model_not_found")
    return JsonResponse(200, orjson.dumps(model_info(spec)), json_headers(request))
