"""The directly formatted ``chat.completion`` body is byte for byte the dictionaries' ``orjson`` output."""

from __future__ import annotations

import orjson
import pytest

from llm_simulator.core.types import (
    ChoicePlan,
    Endpoint,
    FinishReason,
    GenerationPlan,
    GenerationRequest,
    Message,
    Segment,
    SegmentKind,
    TokenLogprob,
    ToolCall,
)
from llm_simulator.providers.openai.chat import completion_object, render_completion
from llm_simulator.providers.openai.chat_body import plain_choice


def _plan(*choices: ChoicePlan, model: str = "gpt-4.1", prompt_tokens: int = 12, cached: int = 0) -> GenerationPlan:
    request = GenerationRequest(model, Endpoint.CHAT, (Message("user", "hi"),), prompt_tokens)
    plan = GenerationPlan(request, list(choices), "fp_0123456789")
    plan.cached_tokens = cached
    return plan


PLAIN = [
    _plan(ChoicePlan(0, ["Hello", ",", " world", "."], FinishReason.STOP)),
    _plan(ChoicePlan(0, [], FinishReason.LENGTH)),  # an empty answer
    _plan(ChoicePlan(0, ['"quoted"', "\\", "\n", "déjà", " 🙂", "\u2028"], FinishReason.STOP_SEQUENCE)),
    _plan(ChoicePlan(0, ["x"] * 40, FinishReason.LENGTH), model='my-model/v1 "odd"', prompt_tokens=0),
    _plan(ChoicePlan(0, ["A", "B"], FinishReason.STOP), cached=4096),  # reported in steps of 128
    _plan(ChoicePlan(0, ["A", "B"], FinishReason.STOP), cached=100),  # under the minimum: 0
    _plan(  # a reasoning model's answer: hidden reasoning, then text
        ChoicePlan(
            0,
            ["think", "ing", " Answer", "."],
            FinishReason.STOP,
            segments=[Segment(SegmentKind.REASONING, 0, 2), Segment(SegmentKind.TEXT, 2, 4)],
        )
    ),
    _plan(ChoicePlan(0, ["only", " reasoning"], FinishReason.LENGTH, segments=[Segment(SegmentKind.REASONING, 0, 2)])),
]


@pytest.mark.parametrize("plan", PLAIN)
def test_the_plain_body_is_the_dictionaries_json(plan: GenerationPlan) -> None:
    assert plain_choice(plan) is not None
    rendered = render_completion(plan, "chatcmpl-abc", 1_796_000_000)
    assert rendered == orjson.dumps(completion_object(plan, "chatcmpl-abc", 1_796_000_000))
    assert orjson.loads(rendered)["choices"][0]["message"]["content"] == plan.choices[0].text


CALL = ToolCall("abc", "get_weather", '{"city":"Paris"}')
OTHER = [
    _plan(ChoicePlan(0, ["a"], FinishReason.STOP), ChoicePlan(1, ["b"], FinishReason.STOP)),
    _plan(ChoicePlan(0, ["a"], FinishReason.STOP, logprobs=[TokenLogprob("a", -0.1, (("b", -2.0),))])),
    _plan(ChoicePlan(0, ["No", "."], FinishReason.REFUSAL)),
    _plan(
        ChoicePlan(
            0, ['{"city"', ':"Paris"}'], FinishReason.TOOL_CALLS, segments=[Segment(SegmentKind.TOOL_CALL, 0, 2, CALL)]
        )
    ),
]


@pytest.mark.parametrize("plan", OTHER)
def test_other_bodies_keep_the_dictionaries(plan: GenerationPlan) -> None:
    assert plain_choice(plan) is None
    rendered = render_completion(plan, "chatcmpl-abc", 7)
    assert rendered == orjson.dumps(completion_object(plan, "chatcmpl-abc", 7))


def test_azure_bodies_keep_their_filter_results() -> None:
    body = orjson.loads(render_completion(PLAIN[0], "chatcmpl-abc", 7, azure=True))
    assert "prompt_filter_results" in body and "content_filter_results" in body["choices"][0]


def test_a_model_or_fingerprint_with_percent_signs_is_written_as_is() -> None:
    # Both are written into a per-model format once: a "%" in them must not become a field.
    for model in ("50%-off %s %d", "gpt-4.1", "50%-off %s %d"):
        plan = _plan(ChoicePlan(0, ["100", "%"], FinishReason.STOP), model=model)
        plan.system_fingerprint = "fp_%%x"
        rendered = render_completion(plan, "chatcmpl-%s", 9)
        assert rendered == orjson.dumps(completion_object(plan, "chatcmpl-%s", 9))
