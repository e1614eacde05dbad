"""InvokeModel with a Meta Llama body: ``{"prompt", "max_gen_len", "temperature", "top_p"}``.

The answer is ``{"generation", "prompt_token_count", "generation_token_count",
"stop_reason"}`` (``stop`` or ``length``). A stream sends one ``chunk`` per token with the
same fields (``prompt_token_count`` only in the first, ``stop_reason`` null until the last,
which also carries ``amazon-bedrock-invocationMetrics``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import JsonResponse, StreamResponse
from llm_simulator.core.types import Endpoint, FinishReason, GenerationPlan, GenerationRequest, Message, TokenEvent
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import Timeline
from llm_simulator.providers.bedrock.answer import INVOKE_STREAM_CONTENT_TYPE, BedrockAnswer
from llm_simulator.providers.bedrock.converse_request import check_limits
from llm_simulator.providers.bedrock.frames import chunk_frame, invocation_metrics, invoke_headers
from llm_simulator.providers.bedrock.models import BedrockModel
from llm_simulator.providers.seeding import header_seed
from llm_simulator.providers.validation import JsonObject, get_int, get_number, get_str, missing

DEFAULT_MAX_GEN_LEN = 512


def stop_reason(reason: FinishReason) -> str:
    """Llama's ``stop_reason``: ``length`` when max_gen_len cut it, else ``stop``."""
    return "length" if reason is FinishReason.LENGTH else "stop"


def parse_llama(sim: Simulator, headers: Mapping[str, str], body: JsonObject, model: BedrockModel) -> GenerationRequest:
    """Validate a Llama body for ``model`` into a neutral request (one user turn: the prompt)."""
    prompt = get_str(body, "prompt")
    if prompt is None:
        raise missing("prompt")
    if not prompt:
        raise invalid("Malformed input request: #/prompt: expected minLength: 1, actual: 0", param="prompt")
    max_gen_len = get_int(body, "max_gen_len", minimum=1, maximum=model.spec.max_output_tokens)
    get_number(body, "temperature", minimum=0, maximum=1)
    get_number(body, "top_p", minimum=0, maximum=1)
    prompt_tokens = sim.count_tokens(prompt)
    limit = max_gen_len if max_gen_len is not None else min(DEFAULT_MAX_GEN_LEN, model.spec.max_output_tokens)
    check_limits(model, prompt_tokens, limit)
    return GenerationRequest(
        model=model.spec.id,
        endpoint=Endpoint.CHAT,
        messages=(Message("user", prompt),),
        prompt_tokens=prompt_tokens,
        max_tokens=limit,
        seed=header_seed(headers),
    )


async def llama_chunks(answer: BedrockAnswer, plan: GenerationPlan, timeline: Timeline) -> AsyncIterator[bytes]:
    """One chunk per token; the last says why it stopped and carries the invocation metrics."""
    prompt_tokens = plan.request.prompt_tokens
    first_byte = 0.0
    count = 0
    async for event in answer.sim.stream(plan, timeline):
        if not isinstance(event, TokenEvent):
            continue
        count += 1
        chunk: dict[str, Any] = {
            "generation": event.text,
            "prompt_token_count": prompt_tokens if count == 1 else None,
            "generation_token_count": count,
            "stop_reason": None,
        }
        if count == 1:
            first_byte = answer.elapsed()
        yield chunk_frame(orjson.dumps(chunk))
    metrics = invocation_metrics(prompt_tokens, plan.completion_tokens, answer.elapsed(), first_byte)
    last = {
        "generation": "",
        "prompt_token_count": None if count else prompt_tokens,
        "generation_token_count": count,
        "stop_reason": stop_reason(plan.choices[0].finish_reason),
        "amazon-bedrock-invocationMetrics": metrics,
    }
    yield chunk_frame(orjson.dumps(last))


class LlamaAnswer(BedrockAnswer):
    """How a Llama-body InvokeModel is answered: one generation, or its tokens as chunks."""

    __slots__ = ()

    @staticmethod
    def seed_identity(gen: GenerationRequest) -> tuple[object, ...]:
        """Model, prompt and ``max_gen_len``."""
        return gen.model, gen.messages, gen.max_tokens

    def stream(self, plan: GenerationPlan, timeline: Timeline) -> StreamResponse:
        """The token chunks."""
        return self.event_stream(llama_chunks(self, plan, timeline), INVOKE_STREAM_CONTENT_TYPE)

    def render(self, plan: GenerationPlan) -> JsonResponse:
        """The generation and its counts, with Bedrock's token-count headers."""
        choice = plan.choices[0]
        body = {
            "generation": choice.text,
            "prompt_token_count": plan.request.prompt_tokens,
            "generation_token_count": plan.completion_tokens,
            "stop_reason": stop_reason(choice.finish_reason),
        }
        headers = invoke_headers(self._request, plan.request.prompt_tokens, plan.completion_tokens, self.elapsed())
        return JsonResponse(200, orjson.dumps(body), headers)
