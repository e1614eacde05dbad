"""A streamed ``GenerateContentResponse``: one complete response object per chunk.

Each chunk holds only the new text; the chunk that ends a candidate carries its
``finishReason``, and the last one the full ``usageMetadata`` (earlier ones repeat the
prompt count, as the API does). ``ArrayStream`` frames them as one JSON array (the default;
SSE frames each as a ``data:`` line instead).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson

from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.types import ChoicePlan, FinishReason, GenerationPlan, SegmentKind, TokenEvent, ToolCall
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import Timeline
from llm_simulator.providers.gemini.blocking import (
    FINISH,
    PROMPT_FEEDBACK,
    blocked_candidate,
    finish_reason,
    malformed,
    prompt_blocked,
)
from llm_simulator.providers.gemini.body import function_args, plan_usage, usage_metadata
from llm_simulator.providers.gemini.common import escape_line_breaks
from llm_simulator.providers.gemini.errors import error_body

# The bytes around a text chunk's JSON string: the head, then (per candidate index) the
# candidate's close, then the usage (the Live fast path, ``server/websocket/live_text.py``,
# recognises a token's chunk by them).
TEXT_HEAD = b'{"candidates":[{"content":{"parts":[{"text":'
CANDIDATE_CLOSE = b'}],"role":"model"},"index":%d}]'
USAGE_KEY = b',"usageMetadata":'


class ChunkWriter:
    """Renders streamed ``GenerateContentResponse`` chunks, each already framed.

    Everything but the token's text is built once per stream (the hot path is one JSON
    string encoding and three concatenations per token); ``prefix`` and ``suffix`` frame
    each chunk (``data: `` and a blank line for SSE, nothing inside a JSON array).
    """

    def __init__(self, plan: GenerationPlan, response_id: str, prefix: bytes = b"", suffix: bytes = b"") -> None:
        request = plan.request
        identity = b"," + orjson.dumps({"modelVersion": request.model, "responseId": response_id})[1:]
        partial = USAGE_KEY + orjson.dumps(usage_metadata(request.prompt_tokens, None)) + identity
        self._plan = plan
        self._identity = identity
        self._prefix = prefix
        self._suffix = suffix
        self._head = prefix + TEXT_HEAD
        self._partial_tail = escape_line_breaks(partial) + suffix
        self._open = [CANDIDATE_CLOSE % i + self._partial_tail for i in range(len(plan.choices))]

    @property
    def _final_tail(self) -> bytes:
        """The full usage and identity that close the last chunk.

        Built when needed, not up front: the plan's cached tokens are known only once its
        timeline opened (after a scripted delay, that is after the writer was made).
        """
        final = USAGE_KEY + orjson.dumps(plan_usage(self._plan)) + self._identity
        return escape_line_breaks(final) + self._suffix

    @property
    def head(self) -> bytes:
        """The bytes of a text chunk before its JSON text."""
        return self._head

    def open_tail(self, index: int) -> bytes:
        """The bytes after a text chunk's JSON text while candidate ``index`` goes on."""
        return self._open[index]

    def token(self, index: int, text: str) -> bytes:
        """A chunk with one token of candidate ``index``, which goes on."""
        return self._head + escape_line_breaks(orjson.dumps(text)) + self._open[index]

    def parts(self, index: int, parts: bytes, reason: str | None, last: bool) -> bytes:
        """A chunk with already-encoded ``parts`` (thoughts, function calls), maybe ending the candidate."""
        finish = b',"finishReason":"%s"' % reason.encode() if reason is not None else b""
        tail = self._final_tail if last else self._partial_tail
        return b'%s{"candidates":[{"content":{"parts":%s,"role":"model"}%s,"index":%d}]%s' % (
            self._prefix,
            escape_line_breaks(parts),
            finish,
            index,
            tail,
        )

    def bare_finish(self, index: int, reason: str, last: bool) -> bytes:
        """The chunk that ends candidate ``index`` when it showed nothing: its content has no ``parts``.

        As the API sends a candidate whose budget went to hidden thinking, or one cut before
        its first token (``body.candidate_content``).
        """
        return b'%s{"candidates":[{"content":{"role":"model"},"finishReason":"%s","index":%d}]%s' % (
            self._prefix,
            reason.encode(),
            index,
            self._final_tail if last else self._partial_tail,
        )

    def blocked(self, index: int, last: bool) -> bytes:
        """The one chunk of a candidate blocked for safety (its tokens are never sent).

        A blocked prompt has one chunk for the whole response, with the last candidate's end
        (empty before that): ``promptFeedback`` and the prompt's usage, no candidates.
        """
        if prompt_blocked(self._plan):
            if not last:
                return b""
            return self._prefix + b'{"promptFeedback":' + orjson.dumps(PROMPT_FEEDBACK) + self._partial_tail
        candidate = orjson.dumps(blocked_candidate(index))
        return b'%s{"candidates":[%s]%s' % (
            self._prefix,
            candidate,
            self._final_tail if last else self._partial_tail,
        )

    def finish(self, index: int, text: str, reason: FinishReason, last: bool) -> bytes:
        """The chunk that ends candidate ``index`` (its last token, or no text); ``last`` adds full usage."""
        return b'%s%s}],"role":"model"},"finishReason":"%s","index":%d}]%s' % (
            self._head,
            escape_line_breaks(orjson.dumps(text)),
            FINISH[reason].encode(),
            index,
            self._final_tail if last else self._partial_tail,
        )


class CandidateTokens:
    """A plain candidate's SSE chunks for the server's fast path (``core.plain``).

    Byte for byte what ``stream_chunks`` yields for one candidate of plain text: a chunk per
    token, the last one carrying the finish reason and the full usage.
    """

    __slots__ = ("_head", "_index", "_open", "_reason", "_writer")

    def __init__(self, writer: ChunkWriter, choice: ChoicePlan) -> None:
        self._writer = writer
        self._index = choice.index
        self._reason = choice.finish_reason
        self._head = writer.head
        self._open = writer.open_tail(choice.index)

    def first(self, text: str, last: bool) -> list[bytes]:
        """The first token's chunk (the finishing chunk if it is the only token)."""
        return self.last(text) if last else [self.token(text)]

    def token(self, text: str) -> bytes:
        """A chunk with one token of the candidate, which goes on."""
        return self._head + escape_line_breaks(orjson.dumps(text)) + self._open

    def last(self, text: str) -> list[bytes]:
        """The chunk with the last token, the finish reason and the full usage."""
        return [self._writer.finish(self._index, text, self._reason, True)]


async def stream_chunks(
    sim: Simulator, plan: GenerationPlan, timeline: Timeline, writer: ChunkWriter, include_thoughts: bool = False
) -> AsyncIterator[bytes]:
    """Framed response chunks as their tokens fall due; a candidate's last token carries its finish.

    Thought tokens go out as ``thought`` parts when asked for (otherwise they only take their
    time); a function call goes out whole, in one part, when its last argument token is due.
    """
    lasts = [len(c.tokens) - 1 for c in plan.choices]
    reasons = [c.finish_reason for c in plan.choices]
    layouts = [_PartLayout(c) if c.segments else None for c in plan.choices]
    # Whether a segmented candidate has sent a part yet (one that never does ends without parts).
    shown = [False] * len(plan.choices)
    remaining = len(plan.choices)
    async for event in sim.stream(plan, timeline, hide_reasoning=not include_thoughts):
        index = event.choice
        layout = layouts[index]
        if isinstance(event, TokenEvent):
            ending = event.position == lasts[index]
            if layout is None:
                if not ending:
                    yield writer.token(index, event.text)
                    continue
                remaining -= 1
                yield writer.finish(index, event.text, reasons[index], remaining == 0)
                continue
            if layout.blocked:
                if ending:
                    remaining -= 1
                    frame = writer.blocked(index, remaining == 0)
                    if frame:
                        yield frame
                continue
            part = layout.part(event.position, event.text, include_thoughts)
            if ending:
                remaining -= 1
                if part is None and not shown[index]:
                    yield writer.bare_finish(index, layout.finish, remaining == 0)
                else:
                    # After parts went out, the API's last chunk may carry an empty text part.
                    yield writer.parts(index, b"[" + (part or b'{"text":""}') + b"]", layout.finish, remaining == 0)
            elif part is not None:
                shown[index] = True
                yield writer.parts(index, b"[" + part + b"]", None, False)
        elif lasts[index] < 0:  # a candidate with no tokens at all
            remaining -= 1
            yield writer.bare_finish(index, FINISH[reasons[index]], remaining == 0)


class _PartLayout:
    """Which part each token position of a segmented candidate belongs to."""

    def __init__(self, choice: ChoicePlan) -> None:
        self.kinds = choice.segment_kinds()
        self.blocked = choice.finish_reason is FinishReason.REFUSAL
        self.finish = finish_reason(choice)
        cut = choice.finish_reason is FinishReason.LENGTH
        self.call_ends: dict[int, ToolCall] = {
            s.stop - 1: s.tool_call
            for s in choice.segments
            if s.tool_call is not None and s.stop > s.start and (cut or not malformed(s.tool_call))
        }

    def part(self, position: int, text: str, include_thoughts: bool) -> bytes | None:
        """The encoded part this token adds to the stream (None: nothing to send yet)."""
        kind = self.kinds[position]
        if kind is SegmentKind.TEXT:
            return b'{"text":' + orjson.dumps(text) + b"}"
        if kind is SegmentKind.REASONING:
            return b'{"text":' + orjson.dumps(text) + b',"thought":true}' if include_thoughts else None
        call = self.call_ends.get(position)
        if call is None:
            return None
        return orjson.dumps({"functionCall": {"name": call.name, "args": function_args(call)}})


class ArrayStream:
    """The default framing: one JSON array, streamed element by element, closed at the end."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._opened = False
        self._closed = False

    async def frames(self) -> AsyncIterator[bytes]:
        """``[`` and the first element, a comma and CRLF before each next one, then ``]``.

        The state is updated before each frame is handed out: the server may stop the stream
        while a frame is being sent and then ask for :meth:`error`, which must continue
        exactly what was sent.
        """
        async for chunk in self._chunks:
            prefix = b",\r\n" if self._opened else b"["
            self._opened = True
            yield prefix + chunk
        closing = b"]" if self._opened else b"[]"
        self._opened = self._closed = True
        yield closing

    def error(self, error: SimulatorError) -> bytes:
        """An error element that closes the array (opened first if need be; nothing once closed)."""
        if self._closed:
            return b""
        self._closed = True
        return (b",\r\n" if self._opened else b"[") + error_body(error) + b"]"


# A response chunk cut short (a chaos ``malformed`` fault).
MALFORMED_CHUNK = b'{"candidates": [{"content": {"parts": [{"text": "tr'
