"""The Responses API's wire output: the Response object, its output items and stream events.

A plan's segments become output items in order: hidden reasoning → a ``reasoning`` item,
visible text → a ``message`` item, each tool call → a ``function_call`` item. The same
``OutputLayout`` (with the items' ids) feeds the JSON body and every stream event, so a
stream's items and its final ``response.completed`` object agree.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import orjson

from llm_simulator.core.errors import SimulatorError
from llm_simulator.core.sse import sse_frame
from llm_simulator.core.types import FinishReason, GenerationPlan, Segment, SegmentKind, ToolCall
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.caching import openai_cached_tokens
from llm_simulator.providers.openai.errors import error_payload
from llm_simulator.providers.openai.responses_builtin import BuiltinCall, opened, progress_events
from llm_simulator.providers.validation import JsonObject

CALL_ID_PREFIX = "call_"
# Longest reasoning summary per mode, in tokens: the summary is the start of the hidden
# reasoning, released as its tokens are (real summaries are a short paraphrase).
SUMMARY_TOKENS = {"concise": 24, "auto": 48, "detailed": 96}
ENCRYPTED_PREFIX = "gAAAAAB"  # what the API's opaque (Fernet) reasoning blobs start with


def new_item_id(prefix: str) -> str:
    """An id such as ``resp_…``, ``msg_…``, ``rs_…`` or ``fc_…`` (48 hex digits, as the API's)."""
    return prefix + IDS.hex(24)


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """What every rendering of one response shares: its id, creation time, model and echoes.

    ``echo`` holds the request fields the Response object repeats (``instructions``,
    ``tools``, ``text``, ``reasoning``…); ``summary`` is the reasoning summary mode (None:
    no summary) and ``encrypted`` whether reasoning items carry ``encrypted_content``.
    """

    id: str
    created_at: int
    model: str
    echo: JsonObject
    summary: str | None = None
    encrypted: bool = False
    background: bool = False
    # Simulated built-in tool calls (output items before the model's own) and the web
    # sources the answer cites.
    builtins: tuple[BuiltinCall, ...] = ()
    citations: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class OutputItem:
    """One output item: which plan tokens it covers, its id and (for calls) the call."""

    kind: SegmentKind
    start: int
    stop: int
    id: str
    call: ToolCall | None = None
    summary_tokens: int = 0  # reasoning: how many of its first tokens form the summary
    builtin: BuiltinCall | None = None  # a simulated built-in tool call (no tokens)


class OutputLayout:
    """The output items of a plan's single choice, and the item of every token position."""

    def __init__(self, plan: GenerationPlan, head: ResponseHead) -> None:
        choice = plan.choices[0]
        self.tokens = choice.tokens
        self.logprobs = choice.logprobs  # with ``include: ["message.output_text.logprobs"]``
        # The logprobs cover the visible text only: it starts after a reasoning model's thinking.
        self.text_start = choice.hidden_lead
        self.reasoning_tokens = choice.reasoning_tokens
        self.prompt_tokens = plan.request.prompt_tokens
        self._plan = plan  # its cached tokens are known only once its timeline opens
        self.incomplete = choice.finish_reason is FinishReason.LENGTH
        # A refusal's text is a ``refusal`` content part, not ``output_text``.
        self.refusal = choice.finish_reason is FinishReason.REFUSAL
        self.head = head
        segments = choice.segments or [Segment(SegmentKind.TEXT, 0, len(choice.tokens))]
        cap = SUMMARY_TOKENS.get(head.summary or "", 0)
        self.items: list[OutputItem] = [
            OutputItem(SegmentKind.TEXT, 0, 0, call.id, builtin=call) for call in head.builtins
        ]
        self.item_at: list[int] = []
        for segment in segments:
            kind = segment.kind
            prefix = "rs_" if kind is SegmentKind.REASONING else "fc_" if kind is SegmentKind.TOOL_CALL else "msg_"
            item = OutputItem(kind, segment.start, segment.stop, new_item_id(prefix), segment.tool_call)
            if kind is SegmentKind.REASONING:
                item.summary_tokens = min(cap, segment.stop - segment.start)
            self.item_at.extend([len(self.items)] * (segment.stop - segment.start))
            self.items.append(item)

    def text(self, item: OutputItem) -> str:
        """The visible text (or arguments) of a message or function-call item."""
        return "".join(self.tokens[item.start : item.stop])

    def summary_delta(self, item: OutputItem, position: int) -> str:
        """The summary text a reasoning token adds (the summary starts without spaces)."""
        text = self.tokens[position]
        return text.lstrip() if position == item.start else text

    def summary(self, item: OutputItem) -> str:
        """A reasoning item's full summary text (the concatenation of its deltas)."""
        end = item.start + item.summary_tokens
        return "".join(self.summary_delta(item, p) for p in range(item.start, end))

    def status(self, index: int) -> str:
        """``completed``, or ``incomplete`` for the item the output limit cut."""
        return "incomplete" if self.incomplete and index == len(self.items) - 1 else "completed"

    # -- items -----------------------------------------------------------------------------

    def opened(self, index: int) -> JsonObject:
        """An item as ``response.output_item.added`` announces it (no content yet)."""
        item = self.items[index]
        if item.builtin is not None:
            return opened(item.builtin)
        if item.kind is SegmentKind.REASONING:
            return {"id": item.id, "type": "reasoning", "summary": []}
        if item.kind is SegmentKind.TOOL_CALL:
            return {**self._call(item), "status": "in_progress", "arguments": ""}
        return {"id": item.id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"}

    def finished(self, index: int) -> JsonObject:
        """An item in its final form (the body's ``output`` and ``response.output_item.done``)."""
        item = self.items[index]
        if item.builtin is not None:
            return item.builtin.item
        if item.kind is SegmentKind.REASONING:
            body: JsonObject = {"id": item.id, "type": "reasoning", "summary": []}
            if item.summary_tokens:
                body["summary"] = [{"type": "summary_text", "text": self.summary(item)}]
            if self.head.encrypted:
                opaque = base64.urlsafe_b64encode(f"{item.id}:{item.stop - item.start}".encode()).decode()
                body["encrypted_content"] = ENCRYPTED_PREFIX + opaque
            return body
        if item.kind is SegmentKind.TOOL_CALL:
            return {**self._call(item), "status": self.status(index), "arguments": self.text(item)}
        part = (
            refusal_part(self.text(item))
            if self.refusal
            else text_part(self.text(item), self.item_logprobs(item), self.annotations(item))
        )
        return {"id": item.id, "type": "message", "status": self.status(index), "content": [part], "role": "assistant"}

    def annotations(self, item: OutputItem) -> list[JsonObject]:
        """A message's ``url_citation`` annotations: each web source cites the whole text."""
        length = len(self.text(item))
        if not length:
            return []
        return [
            {"type": "url_citation", "start_index": 0, "end_index": length, "url": url, "title": title}
            for url, title in self.head.citations
        ]

    def token_logprob(self, position: int) -> JsonObject:
        """One output token's logprob object (with its ``top_logprobs``)."""
        assert self.logprobs is not None
        lp = self.logprobs[position - self.text_start]
        return {
            "token": lp.token,
            "bytes": list(lp.token.encode()),
            "logprob": lp.logprob,
            "top_logprobs": [{"token": t, "bytes": list(t.encode()), "logprob": v} for t, v in lp.top],
        }

    def item_logprobs(self, item: OutputItem) -> list[JsonObject]:
        """A message item's token logprobs (empty unless they were asked for)."""
        if self.logprobs is None:
            return []
        return [self.token_logprob(p) for p in range(item.start, item.stop)]

    def _call(self, item: OutputItem) -> JsonObject:
        call = item.call
        assert call is not None
        return {"id": item.id, "type": "function_call", "call_id": CALL_ID_PREFIX + call.id, "name": call.name}

    def output(self) -> list[JsonObject]:
        """The final ``output`` array."""
        return [self.finished(i) for i in range(len(self.items))]

    def usage(self) -> JsonObject:
        """The ``usage`` object (reasoning tokens are part of the output tokens)."""
        output = self._plan.completion_tokens  # the tokens, unless a fixture reports others
        return {
            "input_tokens": self.prompt_tokens,
            "input_tokens_details": {
                "cached_tokens": openai_cached_tokens(self._plan.cached_tokens),
                "cache_write_tokens": 0,
            },
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.prompt_tokens + output,
        }

    def final_object(self, completed_at: int) -> JsonObject:
        """The complete Response object (``completed``, or ``incomplete`` when cut)."""
        if self.incomplete:
            return response_object(
                self.head, "incomplete", self.output(), self.usage(), {"reason": "max_output_tokens"}, None
            )
        return response_object(self.head, "completed", self.output(), self.usage(), None, completed_at)


def text_part(
    text: str, logprobs: list[JsonObject] | None = None, annotations: list[JsonObject] | None = None
) -> JsonObject:
    """An ``output_text`` content part."""
    return {"type": "output_text", "annotations": annotations or [], "logprobs": logprobs or [], "text": text}


def refusal_part(text: str) -> JsonObject:
    """A ``refusal`` content part."""
    return {"type": "refusal", "refusal": text}


def response_object(
    head: ResponseHead,
    status: str,
    output: list[JsonObject],
    usage: JsonObject | None,
    incomplete_details: JsonObject | None,
    completed_at: int | None,
) -> JsonObject:
    """A Response object in the API's field order."""
    return {
        "id": head.id,
        "object": "response",
        "created_at": head.created_at,
        "status": status,
        "background": head.background,
        "completed_at": completed_at,
        "error": None,
        "incomplete_details": incomplete_details,
        "model": head.model,
        "output": output,
        **head.echo,
        "usage": usage,
    }


class EventWriter:
    """Renders one response's SSE events: ``event: <type>`` + ``data: <json>``, numbered from 0.

    Token events (the hot path) are built from per-item byte prefixes made once when the
    item opens; only the sequence number and the delta are serialised per token.
    """

    def __init__(self, layout: OutputLayout) -> None:
        self.layout = layout
        self.sequence = 0
        self._delta_heads: dict[int, bytes] = {}
        self._logprob_heads: dict[int, bytes] = {}

    def event(self, kind: str, fields: JsonObject) -> bytes:
        """One event frame with the next sequence number."""
        data = orjson.dumps({"type": kind, "sequence_number": self.sequence, **fields})
        self.sequence += 1
        return sse_frame(data, kind.encode())

    def _raw(self, kind: str, prefix: bytes, rest: bytes) -> bytes:
        """An event whose payload is ``{"type", <prefix>"sequence_number":N<rest>}`` (pre-serialised parts)."""
        frame = b'event: %s\ndata: {"type":"%s",%s"sequence_number":%d%s}\n\n' % (
            kind.encode(),
            kind.encode(),
            prefix,
            self.sequence,
            rest,
        )
        self.sequence += 1
        return frame

    def lifecycle(self, kind: str, response: bytes) -> bytes:
        """``response.created`` / ``in_progress`` / ``completed`` / ``incomplete`` with the object."""
        return self._raw(kind, b"", b',"response":' + response)

    def started(self) -> bytes:
        """``response.created`` then ``response.in_progress`` (status in_progress, no output yet).

        A background response is created ``queued`` and announces ``response.queued`` first.
        """
        head = self.layout.head
        snapshot = orjson.dumps(response_object(head, "in_progress", [], None, None, None))
        if head.background:
            queued = orjson.dumps(response_object(head, "queued", [], None, None, None))
            return (
                self.lifecycle("response.created", queued)
                + self.lifecycle("response.queued", queued)
                + self.lifecycle("response.in_progress", snapshot)
            )
        return self.lifecycle("response.created", snapshot) + self.lifecycle("response.in_progress", snapshot)

    def open(self, index: int) -> bytes:
        """The events that open item ``index``."""
        layout = self.layout
        item = layout.items[index]
        ids = b'"item_id":%s,"output_index":%d,' % (orjson.dumps(item.id), index)
        frame = self.event("response.output_item.added", {"output_index": index, "item": layout.opened(index)})
        if item.builtin is not None:
            for kind, fields in progress_events(item.builtin):
                frame += self.event(kind, {"item_id": item.id, "output_index": index, **fields})
        elif item.kind is SegmentKind.TEXT:
            part = refusal_part("") if layout.refusal else text_part("")
            frame += self.event(
                "response.content_part.added",
                {"item_id": item.id, "output_index": index, "content_index": 0, "part": part},
            )
            self._delta_heads[index] = ids + (
                b'"content_index":0,' if layout.refusal else b'"content_index":0,"logprobs":[],'
            )
            self._logprob_heads[index] = ids + b'"content_index":0,'
        elif item.kind is SegmentKind.TOOL_CALL:
            self._delta_heads[index] = ids
        elif item.summary_tokens:
            frame += self.event(
                "response.reasoning_summary_part.added",
                {**self._summary_ids(index), "part": {"type": "summary_text", "text": ""}},
            )
            self._delta_heads[index] = ids + b'"summary_index":0,'
        return frame

    def _summary_ids(self, index: int) -> JsonObject:
        return {"item_id": self.layout.items[index].id, "output_index": index, "summary_index": 0}

    def token(self, index: int, position: int, text: str) -> bytes:
        """The event for one token of item ``index`` (none for reasoning beyond its summary)."""
        item = self.layout.items[index]
        if item.kind is SegmentKind.TEXT:
            if self.layout.refusal:
                return self._raw("response.refusal.delta", self._delta_heads[index], b',"delta":' + orjson.dumps(text))
            if self.layout.logprobs is not None:
                fields = {"logprobs": [self.layout.token_logprob(position)], "delta": text}
                return self._raw(
                    "response.output_text.delta",
                    self._logprob_heads[index],
                    b"," + orjson.dumps(fields)[1:-1],
                )
            return self._raw("response.output_text.delta", self._delta_heads[index], b',"delta":' + orjson.dumps(text))
        if item.kind is SegmentKind.TOOL_CALL:
            return self._raw(
                "response.function_call_arguments.delta", self._delta_heads[index], b',"delta":' + orjson.dumps(text)
            )
        if position - item.start < item.summary_tokens:
            delta = self.layout.summary_delta(item, position)
            return self._raw(
                "response.reasoning_summary_text.delta", self._delta_heads[index], b',"delta":' + orjson.dumps(delta)
            )
        return b""

    def close(self, index: int) -> bytes:
        """The events that finish item ``index``."""
        layout = self.layout
        item = layout.items[index]
        frame = b""
        if item.builtin is not None:
            pass
        elif item.kind is SegmentKind.TEXT and layout.refusal:
            where = {"item_id": item.id, "output_index": index, "content_index": 0}
            frame += self.event("response.refusal.done", {**where, "refusal": layout.text(item)})
            frame += self.event("response.content_part.done", {**where, "part": refusal_part(layout.text(item))})
        elif item.kind is SegmentKind.TEXT:
            text = layout.text(item)
            where = {"item_id": item.id, "output_index": index, "content_index": 0}
            logprobs = layout.item_logprobs(item)
            annotations = layout.annotations(item)
            for at, annotation in enumerate(annotations):
                frame += self.event(
                    "response.output_text.annotation.added",
                    {**where, "annotation_index": at, "annotation": annotation},
                )
            frame += self.event("response.output_text.done", {**where, "text": text, "logprobs": logprobs})
            part = text_part(text, logprobs, annotations)
            frame += self.event("response.content_part.done", {**where, "part": part})
        elif item.kind is SegmentKind.TOOL_CALL:
            assert item.call is not None
            frame += self.event(
                "response.function_call_arguments.done",
                {"item_id": item.id, "output_index": index, "name": item.call.name, "arguments": layout.text(item)},
            )
        elif item.summary_tokens:
            summary = layout.summary(item)
            ids = self._summary_ids(index)
            frame += self.event("response.reasoning_summary_text.done", {**ids, "text": summary})
            frame += self.event(
                "response.reasoning_summary_part.done", {**ids, "part": {"type": "summary_text", "text": summary}}
            )
        return frame + self.event("response.output_item.done", {"output_index": index, "item": layout.finished(index)})

    def advance(self, current: int, target: int) -> bytes:
        """Close item ``current``, open and close any empty items before ``target``, open ``target``.

        ``target`` may be one past the last item (closing everything at the end).
        """
        frame = self.close(current) if current >= 0 else b""
        for index in range(current + 1, min(target, len(self.layout.items))):
            frame += self.open(index) + self.close(index)
        if target < len(self.layout.items):
            frame += self.open(target)
        return frame

    def error(self, error: SimulatorError) -> bytes:
        """A mid-stream failure: the ``error`` event (``code``, ``message``, ``param``)."""
        payload = error_payload(error)
        code = payload["code"] or payload["type"]
        return self.event("error", {"code": code, "message": payload["message"], "param": payload["param"]})
