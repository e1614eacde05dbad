"""The common ``chat.completion`` body, written straight to bytes.

Most non-streamed chat answers are one plain text choice: no logprobs, no tool calls, no
refusal, not Azure's annotated variant. For those the body is a fixed skeleton (one per
model and fingerprint) around five values (id, creation time, text, finish reason, usage
counts), so it is formatted in one ``%`` instead of building five dictionaries for
``orjson`` (measured: about half of the render's time). ``chat.render_completion`` falls
back to the dictionaries for every other body; ``tests/providers/openai/test_chat_body.py``
checks both give the same bytes.
"""

from __future__ import annotations

import functools

import orjson

from llm_simulator.core.types import ChoicePlan, FinishReason, GenerationPlan
from llm_simulator.providers.caching import openai_cached_tokens

# Key order and spelling exactly as ``chat.render_completion``'s dictionaries serialise; the
# model and the system fingerprint are the same for every answer of a model, so they are
# written into a per-model copy of the format once (``_skeleton``), their "%" doubled.
_HEAD = b'{"id":%s,"object":"chat.completion","created":%d,"model":'
_MIDDLE = (
    b',"choices":[{"index":%d,'
    b'"message":{"role":"assistant","content":%s,"refusal":null,"annotations":[]},"logprobs":null,'
    b'"finish_reason":"%s"}],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,'
    b'"prompt_tokens_details":{"cached_tokens":%d,"audio_tokens":0},"completion_tokens_details":'
    b'{"reasoning_tokens":%d,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},'
    b'"service_tier":'
)


# Model ids may be any string a caller sends: the formats kept per (model, fingerprint) are bounded.
@functools.lru_cache(maxsize=256)
def _skeleton(model: str, fingerprint: str, tier: str) -> bytes:
    """The body's format for ``model``, ``fingerprint`` and the tier served: every other value still a ``%`` field."""
    literal = [orjson.dumps(value).replace(b"%", b"%%") for value in (model, tier, fingerprint)]
    return _HEAD + literal[0] + _MIDDLE + literal[1] + b',"system_fingerprint":' + literal[2] + b"}"


def plain_choice(plan: GenerationPlan) -> ChoicePlan | None:
    """The plan's only choice when it is plain text (no logprobs, tool calls or refusal), else None."""
    if len(plan.choices) != 1:
        return None
    choice = plan.choices[0]
    if choice.logprobs is not None or choice.finish_reason is FinishReason.REFUSAL:
        return None
    if choice.segments and choice.tool_calls:
        return None
    return choice


def plain_body(
    plan: GenerationPlan,
    choice: ChoicePlan,
    completion_id: str,
    created: int,
    finish_reason: str,
    tier: str = "default",
) -> bytes:
    """The ``chat.completion`` body of ``plan``'s single plain choice (see ``plain_choice``)."""
    request = plan.request
    prompt = request.prompt_tokens
    completion = plan.completion_tokens
    return _skeleton(request.model, plan.system_fingerprint, tier) % (
        orjson.dumps(completion_id),
        created,
        choice.index,
        orjson.dumps(choice.text),
        finish_reason.encode(),
        prompt,
        completion,
        prompt + completion,
        openai_cached_tokens(plan.cached_tokens),
        choice.reasoning_tokens if choice.segments else 0,
    )
