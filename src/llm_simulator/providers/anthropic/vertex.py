"""Claude on Vertex AI: ``/v1/projects/{p}/locations/{l}/publishers/anthropic/models/{model}:rawPredict``.

The body is a Messages request without ``model`` (the path names it, in Vertex's
``name@version`` spelling) and with ``anthropic_version: "vertex-2023-10-16"`` (newer
SDKs send the API's dated version there, which is accepted too);
``:streamRawPredict`` streams the same events as ``/v1/messages``, and
``count-tokens:rawPredict`` counts tokens (the model then in the body). Everything after
the path is the Messages API's, answered through the same pipeline.

Errors come from two places, as on Vertex: the model's own refusals of a bad request
(invalid fields, a prompt over the context) are Anthropic-shaped, while the platform's
(an unknown publisher model, a refused access token, an exhausted quota, an outage) are
Google-shaped ``{"error": {code, message, status}}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial

from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response, Route
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.admission import no_limit_headers
from llm_simulator.providers.anthropic import messages
from llm_simulator.providers.anthropic.common import PROVIDER
from llm_simulator.providers.anthropic.errors import render_error as render_anthropic_error
from llm_simulator.providers.google_rpc import vertex_error
from llm_simulator.providers.validation import parse_object

VERTEX_VERSION = "vertex-2023-10-16"
# Newer SDKs send the API's dated version (``2026-10-21`` from anthropic 2.x) instead of Vertex's.
DATED_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
MARKER = "/publishers/anthropic/models/"
COUNT_TOKENS = "count-tokens"
QUOTA_METRIC = "online_prediction_requests_per_base_model"
# The model's own answers (a request it refuses); the rest are the platform's.
MODEL_ERRORS = frozenset({ErrorKind.INVALID_REQUEST, ErrorKind.CONTEXT_LENGTH})


def model_id(vertex_name: str) -> str:
    """The Anthropic id of a Vertex model name: ``claude-sonnet-4-5@20250929`` → ``claude-sonnet-4-5-20250929``.

    Vertex writes the version after ``@`` (and once spelled Claude 3.5 Sonnet's second
    release ``-v2@``); an undated name is an alias, as on Anthropic's API.
    """
    return vertex_name.replace("-v2@", "@").replace("@", "-")


def _publisher_model(params: Mapping[str, str], model: str) -> str:
    return f"projects/{params['project']}/locations/{params['location']}/publishers/anthropic/models/{model}"


class VertexMessageAnswer(messages.MessageAnswer):
    """A message answered on Vertex AI: no ``anthropic-ratelimit-*`` headers (the platform sends none)."""

    __slots__ = ()
    limit_headers = staticmethod(no_limit_headers)


async def raw_predict(sim: Simulator, request: HttpRequest) -> Response:
    """``POST …/publishers/anthropic/models/{model}:{rawPredict|streamRawPredict}`` and ``count-tokens:rawPredict``."""
    name, sep, action = request.path_params["target"].rpartition(":")
    if not sep or action not in ("rawPredict", "streamRawPredict"):
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            f"Method not found: '{action}' is not a method of publishers/anthropic/models/{name}. Supported: "
            "rawPredict, streamRawPredict",
        )
    body = parse_object(request.body)
    version = body.pop("anthropic_version", None)
    if version is None:
        raise invalid("anthropic_version: Field required", param="anthropic_version")
    if version != VERTEX_VERSION and not (isinstance(version, str) and DATED_VERSION.fullmatch(version)):
        raise invalid(
            f"anthropic_version: Input should be '{VERTEX_VERSION}' or an API version date (YYYY-MM-DD)",
            param="anthropic_version",
        )
    if name == COUNT_TOKENS:
        counted = body.get("model")
        if isinstance(counted, str):
            body["model"] = model_id(counted)
        return await messages.count_body(sim, request, body)
    spec = sim.resolve_model(model_id(name), PROVIDER)
    if spec is None or spec.provider != PROVIDER or spec.kind != "chat":
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            f"Publisher Model `{_publisher_model(request.path_params, name)}` not found.",
            param="model",
        )
    body["model"] = model_id(name)
    if action == "streamRawPredict":
        body["stream"] = True
    return await messages.serve(sim, request, body, VertexMessageAnswer)


class VertexAnthropicProvider:
    """Claude's routes under Vertex AI's resource paths (stats and chaos filters see them as ``anthropic``)."""

    name = "anthropic"

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def routes(self) -> list[Route]:
        """The one Vertex route: the action is split off the model segment by the handler."""
        path = f"/v1/projects/{{project}}/locations/{{location}}{MARKER}{{target}}"
        return [Route("POST", path, partial(raw_predict, self._sim), "messages", endpoint_of=_endpoint)]

    def claims(self, path: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """Unrouted paths under the Anthropic publisher's models."""
        return MARKER in path

    def render_error(self, error: SimulatorError, request_id: str) -> JsonResponse:
        """The model's refusals in Anthropic's shape; the platform's in Google's, in Vertex's wording."""
        if error.kind in MODEL_ERRORS:
            return render_anthropic_error(error, request_id)
        model = f"anthropic-{error.limit.model}" if error.limit is not None else ""
        code, body = vertex_error(error, QUOTA_METRIC, model)
        return JsonResponse(code, body, [(b"content-type", b"application/json; charset=UTF-8")])


def _endpoint(params: Mapping[str, str]) -> str:
    """``count_tokens`` for the counting model, ``messages`` otherwise."""
    return "count_tokens" if params["target"].startswith(COUNT_TOKENS + ":") else "messages"


__all__ = ["VertexAnthropicProvider"]
