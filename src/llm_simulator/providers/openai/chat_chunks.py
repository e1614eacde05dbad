"""The chunks of a streamed chat completion (``chat.completion.chunk`` frames) and their vocabulary.

``ChunkWriter`` renders every kind of chunk with its constant envelope built once;
``ChatTokens`` is the plain stream's per-token encoder for the server's fast path
(``core.plain``). The finish-reason names, usage and logprob objects and Azure's
content-filter annotations are shared with the non-streamed body (``chat.py``).
"""

from __future__ import annotations

from typing import Any

import orjson

from llm_simulator.core.sse import DATA, sse_frame
from llm_simulator.core.types import ChoicePlan, FinishReason, GenerationPlan, TokenLogprob, ToolCall
from llm_simulator.providers.caching import openai_cached_tokens
from llm_simulator.providers.openai.common import usage_object

FINISH = {
    FinishReason.STOP: "stop",
    FinishReason.STOP_SEQUENCE: "stop",
    FinishReason.LENGTH: "length",
    FinishReason.TOOL_CALLS: "tool_calls",
    FinishReason.REFUSAL: "stop",  # a refusal ends normally; the text is in ``refusal``
}
CALL_ID_PREFIX = "call_"


def plan_usage(plan: GenerationPlan) -> dict[str, Any]:
    """``usage`` of a plan, with its reasoning tokens in the details."""
    reasoning = sum(c.reasoning_tokens for c in plan.choices)
    cached = openai_cached_tokens(plan.cached_tokens)
    return usage_object(plan.request.prompt_tokens, plan.completion_tokens, reasoning, cached)


def logprob_entry(lp: TokenLogprob) -> dict[str, Any]:
    """One token's chat-format logprob object."""
    return {
        "token": lp.token,
        "logprob": lp.logprob,
        "bytes": list(lp.token.encode()),
        "top_logprobs": [{"token": tok, "logprob": value, "bytes": list(tok.encode())} for tok, value in lp.top],
    }


class ChunkWriter:
    """Renders ``chat.completion.chunk`` frames; the constant envelope is built once."""

    def __init__(
        self,
        plan: GenerationPlan,
        completion_id: str,
        created: int,
        include_usage: bool,
        *,
        azure: bool = False,
        tier: str = "default",
    ) -> None:
        self._plan = plan
        # Azure annotates every content chunk's choice with its content-filter verdicts.
        self._filter = b',"content_filter_results":' + orjson.dumps(CONTENT_FILTER_RESULTS) if azure else b""
        self.azure = azure
        envelope = orjson.dumps(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": plan.request.model,
                "service_tier": tier,
                "system_fingerprint": plan.system_fingerprint,
            }
        )
        self._head = DATA + envelope[:-1] + b',"choices":['
        self._tail = b'],"usage":null}\n\n' if include_usage else b"]}\n\n"
        # A plain token's frame around its JSON-encoded text, per choice index: the per-token
        # path then joins three bytes objects instead of formatting a template.
        self._plain: dict[int, tuple[bytes, bytes]] = {}

    def _frame(self, choice: bytes) -> bytes:
        return self._head + choice + self._tail

    def role(self, index: int, content: bool = True) -> bytes:
        """The first chunk of a choice: the role, and empty content (null before tool calls)."""
        return self._frame(
            b'{"index":%d,"delta":{"role":"assistant","content":%s,"refusal":null},"logprobs":null,"finish_reason":null}'
            % (index, b'""' if content else b"null")
        )

    def refusal(self, index: int, text: str) -> bytes:
        """One token of a refusal (``delta.refusal``; content stays null)."""
        return self._frame(
            b'{"index":%d,"delta":{"refusal":%s},"logprobs":null,"finish_reason":null}' % (index, orjson.dumps(text))
        )

    def tool_call_start(self, index: int, position: int, call: ToolCall) -> bytes:
        """The chunk opening tool call ``position``: its id, type and name, empty arguments."""
        opening = orjson.dumps(
            {
                "index": position,
                "id": CALL_ID_PREFIX + call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
        )
        return self._frame(
            b'{"index":%d,"delta":{"tool_calls":[%s]},"logprobs":null,"finish_reason":null}' % (index, opening)
        )

    def tool_arguments(self, index: int, position: int, fragment: str) -> bytes:
        """A fragment of tool call ``position``'s arguments (the fragments concatenate to its JSON)."""
        return self._frame(
            b'{"index":%d,"delta":{"tool_calls":[{"index":%d,"function":{"arguments":%s}}]},"logprobs":null,'
            b'"finish_reason":null}' % (index, position, orjson.dumps(fragment))
        )

    def around(self, index: int) -> tuple[bytes, bytes]:
        """The bytes before and after a plain token's JSON text in choice ``index``'s content chunk."""
        around = self._plain.get(index)
        if around is None:
            around = self._plain[index] = (
                self._head + b'{"index":%d,"delta":{"content":' % index,
                b'},"logprobs":null,"finish_reason":null' + self._filter + b"}" + self._tail,
            )
        return around

    def token(self, index: int, text: str, logprob: TokenLogprob | None) -> bytes:
        """One content token."""
        if logprob is None:
            around = self._plain.get(index) or self.around(index)
            return around[0] + orjson.dumps(text) + around[1]
        lp = b"null"
        if logprob is not None:
            lp = orjson.dumps({"content": [logprob_entry(logprob)], "refusal": None})
        return self._frame(
            b'{"index":%d,"delta":{"content":%s},"logprobs":%s,"finish_reason":null%s}'
            % (index, orjson.dumps(text), lp, self._filter)
        )

    def prompt_filter(self) -> bytes:
        """Azure's first chunk: no choices, the prompt's content-filter results."""
        return self._head + b'],"prompt_filter_results":' + orjson.dumps(prompt_filter_results()) + b"}\n\n"

    def finish(self, index: int, reason: FinishReason) -> bytes:
        """The closing chunk of a choice: empty delta and the finish reason."""
        return self._frame(
            b'{"index":%d,"delta":{},"logprobs":null,"finish_reason":"%s"}' % (index, FINISH[reason].encode())
        )

    def usage(self) -> bytes:
        """The usage-only chunk (``choices: []``), sent only when ``include_usage`` was asked."""
        usage = orjson.dumps(plan_usage(self._plan))
        return self._head + b'],"usage":' + usage + b"}\n\n"


DONE = sse_frame(b"[DONE]")


class ChatTokens:
    """A plain choice's chunks for the server's fast path (``core.plain``).

    Byte for byte what ``stream_frames`` yields for a stream of one choice of plain text
    without logprobs (and not Azure's, whose first chunk comes before any token).
    """

    __slots__ = ("_closing", "_head", "_index", "_tail", "_writer")

    def __init__(self, writer: ChunkWriter, choice: ChoicePlan, include_usage: bool) -> None:
        self._writer = writer
        self._index = choice.index
        self._head, self._tail = writer.around(choice.index)
        self._closing = (choice.finish_reason, include_usage)

    def first(self, text: str, last: bool) -> list[bytes]:
        """The role chunk and the first token (and the closing, if it is the only token)."""
        frames = [self._writer.role(self._index), self._head + orjson.dumps(text) + self._tail]
        return frames + self._close() if last else frames

    def token(self, text: str) -> bytes:
        """A content chunk: a cached prefix, the JSON text, a cached suffix."""
        return self._head + orjson.dumps(text) + self._tail

    def last(self, text: str) -> list[bytes]:
        """The last token, the finish chunk, the usage chunk if asked for, and ``[DONE]``."""
        return [self._head + orjson.dumps(text) + self._tail, *self._close()]

    def _close(self) -> list[bytes]:
        reason, include_usage = self._closing
        frames = [self._writer.finish(self._index, reason)]
        if include_usage:
            frames.append(self._writer.usage())
        frames.append(DONE)
        return frames


_SAFE = {"filtered": False, "severity": "safe"}
# What Azure OpenAI's default content filter reports for harmless text.
CONTENT_FILTER_RESULTS: dict[str, Any] = {
    "hate": _SAFE,
    "self_harm": _SAFE,
    "sexual": _SAFE,
    "violence": _SAFE,
    "protected_material_code": {"filtered": False, "detected": False},
    "protected_material_text": {"filtered": False, "detected": False},
}


def prompt_filter_results() -> list[dict[str, Any]]:
    """Azure's ``prompt_filter_results`` for a single, harmless prompt."""
    results = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
    return [
        {"prompt_index": 0, "content_filter_results": {**results, "jailbreak": {"filtered": False, "detected": False}}}
    ]
