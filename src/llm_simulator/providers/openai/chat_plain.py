"""The usual chat completion request, parsed in one pass over its few keys.

Most requests send a model, plain messages, perhaps a token limit, ``n``, a seed and the
stream flag, nothing else. ``chat.parse_checked`` checks some twenty parameters one getter at
a time, most of them absent; for a body whose keys all belong to ``PLAIN_KEYS`` and whose
values are plainly valid (an ``int`` where an integer is due, a ``bool`` or null where a
flag is), ``plain_request`` reads them once and builds the same ``GenerationRequest`` with
the defaults the getters would have returned. Anything else (another key, a float where an
integer is due, a value out of range, a reasoning model, an unknown model) returns None
before the messages are read, and the general checks run from the start: every error, and
its order, stays theirs. An error in the messages or the context window is raised here, as
the general path raises it (every check it makes before those passes for such a body).
``tests/providers/openai/test_chat_plain.py`` holds both paths to the same results.
"""

from __future__ import annotations

from typing import Any

from llm_simulator.core.types import TEXT_OUTPUT, Endpoint, GenerationRequest
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.openai.chat_messages import parse_messages
from llm_simulator.providers.openai.common import check_limits, generation_refusal
from llm_simulator.providers.openai.tools import NO_TOOLS
from llm_simulator.providers.validation import JsonObject

# The keys the one pass reads; a body with any other key takes the general checks.
PLAIN_KEYS = frozenset(
    {"model", "messages", "max_tokens", "max_completion_tokens", "n", "seed", "stream", "ignore_eos"}
)
# The endpoint as OpenAI's model refusals name it.
CHAT_ENDPOINT = "chat/completions"
# ``n``'s range, as the general check has it.
MAX_CHOICES = 128
# The roles whose last turn makes the model answer a tool result (``follows_tool_result``).
TOOL_RESULT_ROLES = ("tool", "function")

Parsed = tuple[GenerationRequest, ModelSpec, bool, bool]


def _limit(value: Any) -> bool:
    """Whether ``value`` is a token limit the general check accepts as it is (absent, or an int ≥ 1)."""
    return value is None or (type(value) is int and value >= 1)


def _flag(value: Any) -> bool:
    """Whether ``value`` is a flag the general check accepts (absent, null or a boolean)."""
    return value is None or type(value) is bool


def plain_request(sim: Simulator, body: JsonObject) -> Parsed | None:
    """``chat.parse_checked``'s result for a plain body (see the module doc); None: run the general checks."""
    if not PLAIN_KEYS.issuperset(body):
        return None
    get = body.get
    model_id = get("model")
    raw_messages = get("messages")
    if type(model_id) is not str or not model_id or type(raw_messages) is not list or not raw_messages:
        return None
    max_completion, max_tokens, n, seed = get("max_completion_tokens"), get("max_tokens"), get("n"), get("seed")
    stream, ignore_eos = get("stream"), get("ignore_eos")
    if not (_limit(max_completion) and _limit(max_tokens) and _flag(stream) and _flag(ignore_eos)):
        return None
    if not (n is None or (type(n) is int and 1 <= n <= MAX_CHOICES)) or not (seed is None or type(seed) is int):
        return None
    spec = sim.resolve_model(model_id, "openai")
    # A model the chat endpoint refuses, or one of OpenAI's reasoning models (their
    # ``max_tokens`` refusal and default reasoning budget are the general path's to decide).
    if spec is None or "reasoning" in spec.capabilities:
        return None
    if generation_refusal(model_id, spec, CHAT_ENDPOINT) is not None:
        return None
    messages, prompt_tokens = parse_messages(sim, raw_messages)
    if max_completion is not None:
        limit, limit_param = max_completion, "max_completion_tokens"
    else:
        limit, limit_param = max_tokens, "max_tokens"
    check_limits(model_id, spec, prompt_tokens, limit, limit_param)
    request = GenerationRequest(
        model=model_id,
        endpoint=Endpoint.CHAT,
        messages=messages,
        prompt_tokens=prompt_tokens,
        max_tokens=limit,
        n=n or 1,
        seed=seed,
        ignore_eos=ignore_eos is True,
        tool_choice=NO_TOOLS,
        follows_tool_result=messages[-1].role in TOOL_RESULT_ROLES,
        output=TEXT_OUTPUT,
    )
    return request, spec, stream is True, False
