"""Pieces shared by the Anthropic endpoints: model lookup, ids and headers."""

from __future__ import annotations

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import JSON_CONTENT_TYPE, Headers, HttpRequest
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.validation import JsonObject, get_str, missing

PROVIDER = "anthropic"


def new_message_id() -> str:
    """A ``msg_…`` id in the API's length (random; ids are not part of seeding)."""
    return "msg_01" + IDS.token(22)


def require_model(sim: Simulator, body: JsonObject) -> tuple[str, ModelSpec]:
    """The requested model id (as sent) and its spec; ``not_found_error`` when unknown."""
    if "model" not in body:
        raise missing("model")
    model_id = get_str(body, "model", required=True)
    assert model_id is not None
    if not model_id:
        raise invalid("model: String should have at least 1 character", param="model")
    spec = sim.resolve_model(model_id, PROVIDER)
    if spec is None or spec.kind != "chat":
        raise SimulatorError(ErrorKind.NOT_FOUND, f"model: {model_id}", param="model", code="model_not_found")
    return model_id, spec


def response_model(model_id: str, spec: ModelSpec) -> str:
    """The model the API reports: an alias resolves to the dated id it points at."""
    return spec.id if spec.provider == PROVIDER else model_id


def json_headers(request: HttpRequest) -> Headers:
    """Headers of a successful JSON response.

    ``request-id`` is what the SDK surfaces; ``x-request-id`` is the simulator's own, on
    every response (the server adds it to streams itself).
    """
    request_id = request.request_id.encode()
    return [JSON_CONTENT_TYPE, (b"request-id", request_id), (b"x-request-id", request_id)]


def stream_headers(request: HttpRequest) -> Headers:
    """Headers of a Messages event stream (the server appends ``x-request-id``)."""
    return [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),
        (b"request-id", request.request_id.encode()),
    ]
