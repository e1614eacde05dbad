"""The simulator's own admission (breaker, rate limits, chaos) in front of a proxied or replayed request.

The same ``admit`` the generation pipeline runs, so an upstream meets the same injected
errors, delays and 429s (in the provider's shape, with its rate-limit headers) as the
simulator's own answers. The model comes from the body (``model``) or Gemini's path; a model
the catalogue does not know is admitted under its own name with the catalogue defaults.
"""

from __future__ import annotations

import json
from typing import Any

from llm_simulator.core.faults import Admission
from llm_simulator.core.http import HttpRequest
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.admission import LimitHeaders, admit, needs_admission, no_limit_headers
from llm_simulator.providers.anthropic.ratelimits import limit_headers as anthropic_limit_headers
from llm_simulator.providers.openai.ratelimits import limit_headers as openai_limit_headers

_LIMIT_HEADERS: dict[str, LimitHeaders] = {
    "openai": openai_limit_headers,
    "anthropic": anthropic_limit_headers,
    "gemini": no_limit_headers,
}
# A rough token estimate for limits: four characters a token, as the providers' own estimators.
_CHARS_PER_TOKEN = 4
_OUTPUT_ESTIMATE = 256


def json_body(body: bytes) -> dict[str, Any] | None:
    """The request body as a JSON object, or None (empty, not JSON, not an object)."""
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def model_of(request: HttpRequest, body: dict[str, Any] | None) -> str:
    """The model a request names: the body's ``model``, Gemini's ``models/{model}:action``, Azure's deployment."""
    if body is not None and isinstance(body.get("model"), str):
        return str(body["model"])
    target = request.path_params.get("target") or request.path_params.get("deployment") or ""
    return target.rpartition(":")[0] or target


async def admit_forwarded(sim: Simulator, request: HttpRequest, provider: str) -> Admission | None:
    """Run admission for a request the simulator does not answer itself; raise what it meets.

    Returns what admission leaves for the stream (its fault), None when nothing touches it.

    Only when something is on (``needs_admission``); the model is noted on the telemetry
    record either way, so metrics and the request log name it.
    """
    body = json_body(request.body)
    model = model_of(request, body)
    record = request.exchange.record
    if record is not None and model:
        record.model = model
    if not needs_admission(sim, request):
        return None
    spec = model_spec(sim, model, provider)
    estimate = len(request.body) // _CHARS_PER_TOKEN
    return await admit(
        sim, request, provider, model, spec, estimate, _OUTPUT_ESTIMATE, _LIMIT_HEADERS.get(provider, no_limit_headers)
    )


def model_spec(sim: Simulator, model: str, provider: str) -> ModelSpec:
    """The catalogue's entry for ``model``, or one made up for a model only the upstream knows.

    Limits, chaos and re-timed replay need one; a made-up entry has the catalogue's defaults.
    """
    spec = sim.catalogue.resolve(model, provider)
    if spec is not None:
        return spec
    return ModelSpec(model or "unknown", provider, "chat", 1_000_000, 1_000_000, sim.config.latency.default_profile)
