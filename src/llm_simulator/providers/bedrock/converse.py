"""``POST /model/{modelId}/converse`` and ``/converse-stream``: Bedrock's model-neutral chat API.

The answer is ``{"output": {"message": {"role", "content": [blocks]}}, "stopReason", "usage",
"metrics"}``; the stream is event-stream framed (``frames.py``): ``messageStart`` →
(``contentBlockStart`` for a tool call) → ``contentBlockDelta`` × N → ``contentBlockStop``
per block → ``messageStop`` (the stop reason) → ``metadata`` (usage and latency). Text
blocks have no ``contentBlockStart``, as on Bedrock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from llm_simulator.core.http import JsonResponse, StreamResponse
from llm_simulator.core.types import (
    ChoicePlan,
    FinishReason,
    GenerationPlan,
    GenerationRequest,
    SegmentKind,
    TokenEvent,
)
from llm_simulator.engine.timing import Timeline
from llm_simulator.providers.anthropic.blocks import Block, blocks_of, signature, tool_input
from llm_simulator.providers.bedrock.answer import BedrockAnswer
from llm_simulator.providers.bedrock.frames import event_frame, json_headers

STOP_REASON = {
    FinishReason.STOP: "end_turn",
    FinishReason.STOP_SEQUENCE: "stop_sequence",
    FinishReason.LENGTH: "max_tokens",
    FinishReason.TOOL_CALLS: "tool_use",
    FinishReason.REFUSAL: "content_filtered",
}
TOOL_ID_PREFIX = "tooluse_"
MESSAGE_START = event_frame("messageStart", b'{"role":"assistant"}')
TEXT_DELTA_HEAD = b'{"contentBlockIndex":%d,"delta":{"text":'
DELTA_TAIL = b"}}"


def tool_use_id(block: Block) -> str:
    """The ``tooluse_…`` id of a tool call block (22 characters after the prefix, as Bedrock's)."""
    assert block.call is not None
    return TOOL_ID_PREFIX + block.call.id[:22]


def usage(plan: GenerationPlan) -> dict[str, int]:
    """``inputTokens``, ``outputTokens`` and ``totalTokens``."""
    prompt, output = plan.request.prompt_tokens, plan.completion_tokens
    return {"inputTokens": prompt, "outputTokens": output, "totalTokens": prompt + output}


def content_block(choice: ChoicePlan, block: Block) -> dict[str, Any]:
    """One finished content block of the answer's message."""
    text = "".join(choice.tokens[block.start : block.stop])
    if block.kind is SegmentKind.REASONING:
        return {"reasoningContent": {"reasoningText": {"text": text, "signature": signature(text)}}}
    if block.call is not None:
        return {"toolUse": {"toolUseId": tool_use_id(block), "name": block.call.name, "input": tool_input(block.call)}}
    return {"text": text}


def converse_body(plan: GenerationPlan, latency_ms: int) -> dict[str, Any]:
    """The whole Converse answer."""
    choice = plan.choices[0]
    return {
        "output": {"message": {"role": "assistant", "content": [content_block(choice, b) for b in blocks_of(choice)]}},
        "stopReason": STOP_REASON[choice.finish_reason],
        "usage": usage(plan),
        "metrics": {"latencyMs": latency_ms},
    }


def _delta(index: int, block: Block, fragment: str) -> bytes:
    """A ``contentBlockDelta``: text (the hot path, no dict built), tool input JSON, or reasoning."""
    if block.kind is SegmentKind.TEXT:
        return event_frame("contentBlockDelta", TEXT_DELTA_HEAD % index + orjson.dumps(fragment) + DELTA_TAIL)
    if block.kind is SegmentKind.REASONING:
        delta: dict[str, Any] = {"reasoningContent": {"text": fragment}}
    else:
        delta = {"toolUse": {"input": fragment}}
    return event_frame("contentBlockDelta", orjson.dumps({"contentBlockIndex": index, "delta": delta}))


def _block_start(index: int, block: Block) -> bytes:
    """``contentBlockStart`` for a tool call (text and reasoning blocks open with their first delta)."""
    if block.call is None:
        return b""
    start = {"toolUse": {"toolUseId": tool_use_id(block), "name": block.call.name}}
    return event_frame("contentBlockStart", orjson.dumps({"contentBlockIndex": index, "start": start}))


def _block_stop(choice: ChoicePlan, index: int, block: Block) -> bytes:
    """``contentBlockStop`` (a reasoning block's signature delta first)."""
    frame = b""
    if block.kind is SegmentKind.REASONING:
        text = "".join(choice.tokens[block.start : block.stop])
        payload = {"contentBlockIndex": index, "delta": {"reasoningContent": {"signature": signature(text)}}}
        frame = event_frame("contentBlockDelta", orjson.dumps(payload))
    return frame + event_frame("contentBlockStop", b'{"contentBlockIndex":%d}' % index)


async def converse_events(answer: BedrockAnswer, plan: GenerationPlan, timeline: Timeline) -> AsyncIterator[bytes]:
    """The ConverseStream events; ``messageStart`` goes out with the first token, when it is due.

    Blocks open at their first token and close when the next one opens (or at the end), so
    ``contentBlockIndex`` runs 0..n-1 in order.
    """
    choice = plan.choices[0]
    blocks = blocks_of(choice)
    starts = {block.start: number for number, block in enumerate(blocks)}
    current = -1
    head = MESSAGE_START
    async for event in answer.sim.stream(plan, timeline):
        if not isinstance(event, TokenEvent):
            continue
        frame = head
        head = b""
        opening = starts.get(event.position)
        if opening is not None and opening != current:
            if current >= 0:
                frame += _block_stop(choice, current, blocks[current])
            frame += _block_start(opening, blocks[opening])
            current = opening
        yield frame + _delta(current, blocks[current], event.text)
    if current < 0:  # nothing was generated: one empty text block, opened and closed
        current = 0
        head += _delta(0, blocks[0], "")
    stop = orjson.dumps({"stopReason": STOP_REASON[choice.finish_reason]})
    latency_ms = round(answer.elapsed() * 1000)
    metadata = orjson.dumps({"usage": usage(plan), "metrics": {"latencyMs": latency_ms}})
    yield (
        head
        + _block_stop(choice, current, blocks[current])
        + event_frame("messageStop", stop)
        + event_frame("metadata", metadata)
    )


class ConverseAnswer(BedrockAnswer):
    """How a Converse request is answered: the event stream, or one JSON body."""

    __slots__ = ()

    @staticmethod
    def seed_identity(gen: GenerationRequest) -> tuple[object, ...]:
        """Model, messages, ``maxTokens`` and the tools offered."""
        return gen.model, gen.messages, gen.max_tokens, gen.tools

    def stream(self, plan: GenerationPlan, timeline: Timeline) -> StreamResponse:
        """``messageStart`` … ``metadata``, event-stream framed."""
        return self.event_stream(converse_events(self, plan, timeline))

    def render(self, plan: GenerationPlan) -> JsonResponse:
        """The Converse JSON answer, ``metrics.latencyMs`` measured on the simulator's clock."""
        body = converse_body(plan, round(self.elapsed() * 1000))
        return JsonResponse(200, orjson.dumps(body), json_headers(self._request))
