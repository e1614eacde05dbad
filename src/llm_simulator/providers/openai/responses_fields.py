"""A Responses API body's top-level checks: its fields, the model, and the API's refusals.

Run before the body's fields are read one by one (``responses.parse_request``): a field the
API does not have is its ``Unknown parameter`` 400 (a body carried over from chat is caught
there), one the simulator does not implement a clear 400 rather than silently ignored, and
an unknown model the Responses API's 400, not chat's 404.
"""

from __future__ import annotations

from llm_simulator.core.errors import SimulatorError, invalid
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.openai.common import require_model
from llm_simulator.providers.validation import JsonObject

# Request fields the simulator does not implement: a clear 400 beats silently ignoring them.
UNSUPPORTED = {
    "prompt": "prompt templates",
}
# Every top-level field of a create request (the openai SDK's ``ResponseCreateParams``, 3.63;
# ``tests/providers/openai/test_responses_params.py`` holds them equal): any other is the API's
# ``Unknown parameter`` 400, so a body carried over from chat (``max_tokens``…) is caught.
CREATE_FIELDS = frozenset(
    {
        "access_programs", "background", "background_options", "context_management", "conversation", "image",
        "include", "input", "instructions", "max_output_tokens", "max_tool_calls", "metadata", "model",
        "moderation", "parallel_tool_calls", "previous_response_id", "prompt", "prompt_cache_key",
        "prompt_cache_options", "prompt_cache_retention", "reasoning", "safety_identifier", "service_tier",
        "store", "stream", "stream_options", "temperature", "text", "tool_choice", "tools", "top_logprobs",
        "top_p", "truncation", "user",
    }
)  # fmt: skip
# ``POST /v1/responses/input_tokens`` takes these (its SDK's ``InputTokenCountParams``) and no others.
COUNT_FIELDS = frozenset(
    {
        "conversation", "input", "instructions", "model", "parallel_tool_calls", "personality",
        "previous_response_id", "reasoning", "text", "tool_choice", "tools", "truncation",
    }
)  # fmt: skip
# Chat's field that moved: the API says where to.
MOVED = {"response_format": "text.format"}


def reject_unknown(body: JsonObject, known: frozenset[str]) -> None:
    """The API's 400 for a top-level field it does not know (the first one, in the body's order)."""
    for key in body:
        if key in known:
            continue
        if key in MOVED:
            raise invalid(
                f"Unsupported parameter: '{key}'. In the Responses API, this parameter has moved to "
                f"'{MOVED[key]}'. Try again with the new parameter.",
                param=key,
                code="unsupported_parameter",
            )
        raise invalid(f"Unknown parameter: '{key}'.", param=key, code="unknown_parameter")


def reject_unsupported(body: JsonObject) -> None:
    """A 400 naming a field the simulator does not implement (``UNSUPPORTED``), when it is set."""
    for key, what in UNSUPPORTED.items():
        value = body.get(key)
        if value is not None and value is not False:
            raise invalid(
                f"Unsupported parameter: '{key}'. The simulator does not implement {what}.",
                param=key,
                code="unsupported_parameter",
            )


# The Responses API's refusal of an input longer than the model's context window.
INPUT_TOO_LONG = "Your input exceeds the context window of this model. Please adjust your input and try again."


def responses_model(sim: Simulator, body: JsonObject) -> tuple[str, ModelSpec]:
    """The model and its spec; an unknown one is the Responses API's 400 (chat's is a 404 in other words)."""
    try:
        return require_model(sim, body)
    except SimulatorError as exc:
        if exc.code != "model_not_found":
            raise
        raise invalid(
            f"The requested model '{body['model']}' does not exist.", param="model", code="model_not_found"
        ) from None
