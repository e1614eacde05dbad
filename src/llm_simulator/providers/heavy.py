"""What handlers need to run a request's CPU-heavy steps off the event loop (``engine.cpu``)."""

from __future__ import annotations

from llm_simulator.core.http import HttpRequest
from llm_simulator.engine.cpu import HEAVY_BYTES
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.validation import JsonObject


def is_heavy(request: HttpRequest) -> bool:
    """Whether the request's body is large enough to parse and plan on the CPU pool."""
    return len(request.body) >= HEAVY_BYTES


def body_window(sim: Simulator, body: JsonObject, provider: str, heavy: bool) -> int | None:
    """The context window of the model named by a heavy body's ``model`` (None if none resolves).

    The ceiling for token counting while the body is parsed; parsing itself reports a missing
    or unknown model. Only a heavy body needs one: a text in a smaller body is counted in
    about a millisecond anyway, so its model is not resolved twice on the hot path.
    """
    if not heavy:
        return None
    model = body.get("model")
    spec = sim.resolve_model(model, provider) if isinstance(model, str) and model else None
    return spec.context_window if spec is not None else None
