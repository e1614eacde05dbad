"""How an Ollama generation is answered: NDJSON chunks as tokens come, or one JSON object.

Each streamed line is one object with ``done: false`` holding the next piece of output
(``message.content`` / ``message.thinking`` on ``/api/chat``, ``response`` / ``thinking``
on ``/api/generate``); a tool call goes out whole, in one chunk, once its arguments are
complete (Ollama parses calls from the model's output before sending them). The last line
has ``done: true``, ``done_reason`` and the timings in nanoseconds, measured on the
simulator's clock:

- ``load_duration``: arrival to the start of generation (parsing, admission, any injected delay);
- ``prompt_eval_duration``: start of generation to the first token (the simulated TTFT);
- ``eval_duration``: first token to the last;
- ``total_duration``: arrival to the end.

A non-streamed answer is not released token by token, so its first-token time is not
observed: its ``prompt_eval_duration`` is the first token's share of the generation time
(one step in ``eval_count + 1``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from llm_simulator.core.http import HttpRequest, JsonResponse, StreamResponse
from llm_simulator.core.types import FinishReason, GenerationPlan, GenerationRequest, SegmentKind, TokenEvent
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import Timeline
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.admission import no_limit_headers
from llm_simulator.providers.ollama.common import JSON_HEADERS, NDJSON_HEADERS, LoadedModels, nanoseconds, timestamp
from llm_simulator.providers.ollama.errors import stream_error_line

# The random part of a tool call's id (``call_`` and 8 characters, as Ollama's ``toolCallId``).
TOOL_CALL_ID_CHARS = 8

CHAT = "chat"
GENERATE = "generate"


def done_reason(plan: GenerationPlan) -> str:
    """``length`` when the output was cut by ``num_predict`` or the context, ``stop`` otherwise."""
    return "length" if plan.choices[0].finish_reason is FinishReason.LENGTH else "stop"


def tool_call_object(name: str, arguments: str, index: int) -> dict[str, Any]:
    """One ``tool_calls`` entry: an id, and the call's position, name and arguments.

    As Ollama's ``api.ToolCall`` serialises it: ``id`` is ``call_`` and 8 lowercase letters
    or digits, ``function.index`` the call's place in the answer (sent even when 0), and
    the arguments an object, not JSON text.
    """
    try:
        parsed = orjson.loads(arguments) if arguments else {}
    except orjson.JSONDecodeError:
        parsed = {}
    call_id = "call_" + IDS.token(TOOL_CALL_ID_CHARS).lower()
    function = {"index": index, "name": name, "arguments": parsed if isinstance(parsed, dict) else {}}
    return {"id": call_id, "function": function}


@dataclass(slots=True)
class Clocking:
    """Monotonic times of one request: arrival, start of generation, first token, end."""

    arrived: float
    begun: float = 0.0
    first: float | None = None

    def timings(self, plan: GenerationPlan, end: float) -> dict[str, int]:
        """The final object's counts and durations (nanoseconds)."""
        generation = max(0.0, end - self.begun)
        first = self.first
        if first is None:
            # Not observed (a non-streamed answer): the first of eval_count + 1 equal steps.
            first = self.begun + generation / (plan.completion_tokens + 1)
        return {
            "total_duration": nanoseconds(end - self.arrived),
            "load_duration": nanoseconds(self.begun - self.arrived),
            "prompt_eval_count": plan.request.prompt_tokens,
            "prompt_eval_duration": nanoseconds(first - self.begun),
            "eval_count": plan.completion_tokens,
            "eval_duration": nanoseconds(end - first),
        }


class ChunkWriter:
    """The NDJSON lines of one plan in the shape of ``/api/chat`` or ``/api/generate``."""

    __slots__ = ("_head", "_kind", "_sim")

    def __init__(self, sim: Simulator, kind: str, model: str) -> None:
        self._sim = sim
        self._kind = kind
        self._head = b'{"model":' + orjson.dumps(model) + b',"created_at":"'

    def _open(self) -> bytes:
        return self._head + timestamp(self._sim.clock.wall()).encode() + b'",'

    def text(self, fragment: str, kind: SegmentKind) -> bytes:
        """A chunk with the next piece of text or thinking (the per-token path)."""
        piece = orjson.dumps(fragment)
        if self._kind == CHAT:
            if kind is SegmentKind.REASONING:
                body = b'"message":{"role":"assistant","content":"","thinking":' + piece + b"}"
            else:
                body = b'"message":{"role":"assistant","content":' + piece + b"}"
        elif kind is SegmentKind.REASONING:
            body = b'"response":"","thinking":' + piece
        else:
            body = b'"response":' + piece
        return self._open() + body + b',"done":false}\n'

    def tool_call(self, name: str, arguments: str, index: int) -> bytes:
        """A chat chunk carrying one whole tool call (the ``index``-th of the answer)."""
        message = {"role": "assistant", "content": "", "tool_calls": [tool_call_object(name, arguments, index)]}
        return self._open() + b'"message":' + orjson.dumps(message) + b',"done":false}\n'

    def final(self, plan: GenerationPlan, timings: dict[str, int]) -> bytes:
        """The ``done: true`` line: reason, counts and durations."""
        empty: dict[str, Any] = (
            {"message": {"role": "assistant", "content": ""}} if self._kind == CHAT else {"response": ""}
        )
        tail = {**empty, "done": True, "done_reason": done_reason(plan), **timings}
        return self._open() + orjson.dumps(tail)[1:] + b"\n"


def complete_object(plan: GenerationPlan, kind: str, model: str, wall: float) -> dict[str, Any]:
    """The whole answer as one object (without the timings)."""
    choice = plan.choices[0]
    reasoning = choice.reasoning
    head: dict[str, Any] = {"model": model, "created_at": timestamp(wall)}
    if kind == CHAT:
        message: dict[str, Any] = {"role": "assistant", "content": choice.text}
        if reasoning:
            message["thinking"] = reasoning
        calls = choice.tool_calls
        if calls:
            message["tool_calls"] = [tool_call_object(c.name, c.arguments, i) for i, c in enumerate(calls)]
        head["message"] = message
    else:
        head["response"] = choice.text
        if reasoning:
            head["thinking"] = reasoning
    return {**head, "done": True, "done_reason": done_reason(plan)}


async def stream_lines(
    sim: Simulator, plan: GenerationPlan, timeline: Timeline, writer: ChunkWriter, clocking: Clocking
) -> AsyncIterator[bytes]:
    """The chunks of ``plan`` as its tokens are due, then the ``done`` line."""
    choice = plan.choices[0]
    kinds = choice.segment_kinds()
    # The position of each tool call's last token → the call (sent whole when it is complete).
    call_ends = {s.stop - 1: s.tool_call for s in choice.segments if s.tool_call is not None}
    calls_sent = 0
    async for event in sim.stream(plan, timeline):
        if not isinstance(event, TokenEvent):
            continue
        if clocking.first is None:
            clocking.first = sim.clock.now()
        kind = kinds[event.position]
        if kind is SegmentKind.TOOL_CALL:
            call = call_ends.get(event.position)
            if call is not None:
                yield writer.tool_call(call.name, call.arguments, calls_sent)
                calls_sent += 1
            continue
        yield writer.text(event.text, kind)
    yield writer.final(plan, clocking.timings(plan, sim.clock.now()))


# A chunk cut short (a chaos ``malformed`` fault): the client's json.loads fails on it.
MALFORMED_LINE = (
    b'{"model":"simulated","created_at":"2024-01-01T00:00:00Z","message":{"role":"assistant","content":"tr\n'
)


class OllamaAnswer:
    """The pipeline's view of one ``/api/chat`` or ``/api/generate`` request."""

    __slots__ = ("_clocking", "_keep_alive_s", "_kind", "_loaded", "_model", "_request", "_sim", "_spec")

    provider = "ollama"
    limit_headers = staticmethod(no_limit_headers)

    def __init__(
        self,
        sim: Simulator,
        request: HttpRequest,
        kind: str,
        spec: ModelSpec,
        arrived: float,
        loaded: LoadedModels,
        keep_alive_s: float,
    ) -> None:
        self._sim = sim
        self._request = request
        self._kind = kind
        self._spec = spec
        self._clocking = Clocking(arrived)
        self._loaded = loaded
        self._keep_alive_s = keep_alive_s
        self._model = ""

    @staticmethod
    def seed_identity(gen: GenerationRequest) -> tuple[object, ...]:
        """Model, messages and the output limit."""
        return gen.model, gen.messages, gen.max_tokens

    def begin(self, plan: GenerationPlan) -> None:
        """The start of generation; the model counts as loaded from now for its ``keep_alive``."""
        sim = self._sim
        self._clocking.begun = sim.clock.now()
        self._model = plan.request.model
        self._loaded.touch(self._spec, self._keep_alive_s, sim.clock.wall())

    def stream(self, plan: GenerationPlan, timeline: Timeline) -> StreamResponse:
        """NDJSON chunks, then the ``done`` line."""
        writer = ChunkWriter(self._sim, self._kind, self._model)
        lines = stream_lines(self._sim, plan, timeline, writer, self._clocking)
        return StreamResponse(lines, list(NDJSON_HEADERS), stream_error_line, malformed=MALFORMED_LINE)

    def render(self, plan: GenerationPlan) -> JsonResponse:
        """The whole answer with its timings."""
        sim = self._sim
        body = complete_object(plan, self._kind, self._model, sim.clock.wall())
        body.update(self._clocking.timings(plan, sim.clock.now()))
        return JsonResponse(200, orjson.dumps(body), list(JSON_HEADERS))
