"""``POST /v1/responses/input_tokens``: the input tokens a Responses request would be charged.

The body is a ``POST /v1/responses`` body (``client.responses.input_tokens.count``): it is
read by the same parser, so the count is exactly the ``usage.input_tokens`` the response
would report (instructions, tools, the context of ``previous_response_id`` or
``conversation`` included), and bad input gets the same errors. ``input`` may be left out
(the context alone is counted); nothing is generated, stored or charged to a rate limit.
``model`` may be left out too: the count is then the catalogue's first OpenAI text model's
(every model counts with o200k_base here).
"""

from __future__ import annotations

import functools
import time

import orjson

from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.engine.cpu import off_loop
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.heavy import is_heavy
from llm_simulator.providers.openai.common import response_headers
from llm_simulator.providers.openai.conversations import ConversationStore
from llm_simulator.providers.openai.responses import parse_request
from llm_simulator.providers.openai.responses_store import ResponseStore
from llm_simulator.providers.validation import parse_object

# A count answers the same object whatever the request: ``{"object", "input_tokens"}``.
OBJECT = "response.input_tokens"


def _any_text_model(sim: Simulator) -> str:
    """The model a count without ``model`` is made for: the first OpenAI model that writes text."""
    for spec in sim.catalogue.list_models("openai"):
        if not spec.is_embedding and "chat" in spec.capabilities:
            return spec.id
    return "gpt-4o"  # an empty catalogue: the refusal then names the model asked for


async def count(
    sim: Simulator, store: ResponseStore, conversations: ConversationStore, request: HttpRequest
) -> Response:
    """Serve ``POST /v1/responses/input_tokens``."""
    started = time.monotonic()
    body = parse_object(request.body)
    previous = body.get("previous_response_id")
    if isinstance(previous, str):
        await store.fetch(previous)  # from the fleet's store, when another replica answered it
    counted = {**body, "model": body.get("model") or _any_text_model(sim)}
    # A heavy body is parsed on the CPU pool, as a response's is; no ceiling: the count is exact.
    parse = functools.partial(parse_request, count_only=True)
    parsed = await off_loop(is_heavy(request), None, parse, sim, store, request, counted, conversations)
    answer = {"object": OBJECT, "input_tokens": parsed.gen.prompt_tokens}
    return JsonResponse(200, orjson.dumps(answer), response_headers(request, started, parsed.gen.model))
