"""Recorded streams as a client saw them: a cassette entry's bytes, events, output and timing.

One reader for the proxy's cassettes (``proxy/cassette.py`` writes them: ``status``,
``chunks[].{ms, text|b64}`` or ``body.{ms, …}``), shared by the proxy's replay pacing and
``cassette to-profile`` (``proxy/retime.py``, ``proxy/tools.py``) and the latency lens
(``adapters/latency/recorded.py``), which are sibling layers and may not import each other.

A recorded stream is cut into SSE events at blank lines. An event *carries output* when it
delivers generated text, reasoning or tool-call arguments in any provider's stream shape (an
OpenAI chat delta, a Responses ``….delta`` of output text, arguments or reasoning, an Anthropic
``content_block_delta``, a Gemini part with text or a function call). Events that only open,
close or repeat the whole answer (a Responses ``output_text.done`` or ``completed``) do not.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The Responses API's streamed pieces of output: text, refusals, tool arguments, reasoning.
_RESPONSES_OUTPUT = re.compile(r"response\.(?:output_text|refusal|function_call_arguments|reasoning\w*)\.delta")
# Where a recorded answer's usage says how long its prompt and its output were (OpenAI, Anthropic, Gemini).
_PROMPT_TOKENS = re.compile(rb'"(?:prompt_tokens|input_tokens|promptTokenCount)":\s*(\d+)')
_OUTPUT_TOKENS = re.compile(rb'"(?:completion_tokens|output_tokens|candidatesTokenCount)":\s*(\d+)')


def part_bytes(part: Mapping[str, Any]) -> bytes:
    """The bytes of a recorded body or chunk (``b64`` for bytes that are not UTF-8, else ``text``).

    Raises ``ValueError`` on ``b64`` that is not base64.
    """
    if "b64" in part:
        return base64.b64decode(str(part["b64"]))
    return str(part.get("text", "")).encode("utf-8")


def split_events(data: bytes) -> list[bytes]:
    """``data`` cut after every blank line (the end of an SSE event); the pieces join back to ``data``."""
    pieces = data.split(b"\n\n")
    events = [piece + b"\n\n" for piece in pieces[:-1]]
    if pieces[-1]:
        events.append(pieces[-1])
    return events


def event_json(event: bytes) -> Any:
    """The JSON an SSE event's ``data:`` lines hold (None: no data, ``[DONE]``, or not JSON)."""
    lines = event.replace(b"\r\n", b"\n").split(b"\n")
    data = b"\n".join(line[5:].lstrip() for line in lines if line.startswith(b"data:"))
    if not data or data == b"[DONE]":
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def carries_output(event: bytes) -> bool:
    """Whether a recorded SSE event delivers generated text, reasoning or tool-call arguments."""
    body = event_json(event)
    if not isinstance(body, Mapping):
        return False
    kind = body.get("type")
    if isinstance(kind, str):
        return kind == "content_block_delta" or _RESPONSES_OUTPUT.fullmatch(kind) is not None
    return _chat_output(body) or _gemini_output(body)


def _chat_output(body: Mapping[str, Any]) -> bool:
    """An OpenAI chat chunk whose delta has content, reasoning or tool calls."""
    for choice in body.get("choices") or []:
        delta = choice.get("delta") if isinstance(choice, Mapping) else None
        if isinstance(delta, Mapping) and any(delta.get(k) for k in ("content", "tool_calls", "reasoning_content")):
            return True
    return False


def _gemini_output(body: Mapping[str, Any]) -> bool:
    """A Gemini chunk with a part holding text or a function call."""
    for candidate in body.get("candidates") or []:
        content = candidate.get("content") if isinstance(candidate, Mapping) else None
        parts = content.get("parts") if isinstance(content, Mapping) else None
        if isinstance(parts, list) and any(
            isinstance(p, Mapping) and (p.get("text") or p.get("functionCall")) for p in parts
        ):
            return True
    return False


def reported_tokens(data: bytes) -> tuple[int | None, int | None]:
    """(prompt, output) tokens the usage in ``data`` reports, the largest of each (None: not reported).

    The largest, because a stream repeats its usage as it grows (Anthropic's ``message_start``
    says 1 output token, its ``message_delta`` the final count; Gemini's every chunk a running total).
    """
    prompt = [int(n) for n in _PROMPT_TOKENS.findall(data)]
    output = [int(n) for n in _OUTPUT_TOKENS.findall(data)]
    return (max(prompt) if prompt else None), (max(output) if output else None)


@dataclass(frozen=True)
class StreamTiming:
    """A recorded stream's timing as its client saw it (milliseconds from the request's start).

    ``output_tokens`` is what the usage reports, else the number of output events.
    """

    ttft_ms: float
    gaps_ms: tuple[float, ...]
    e2e_ms: float
    prompt_tokens: int | None
    output_tokens: int


def stream_timing(chunks: Sequence[Any]) -> StreamTiming | None:
    """The timing of a recorded stream's ``chunks`` (None: no chunk carried output, or one is unreadable).

    TTFT is the offset of the first chunk carrying output, E2E the last chunk's. A chunk that
    carried ``k`` output events ``g`` ms after the previous output chunk gives ``k`` gaps of
    ``g / k``: the events coalesced on the way, their spacing within the chunk is not known, and
    gaps of 0 would pull a fitted inter-token latency down.
    """
    timed: list[tuple[float, int]] = []
    data: list[bytes] = []
    pending = b""  # an event split across chunks ends, and counts, with the chunk that completes it
    try:
        for chunk in chunks:
            piece = part_bytes(chunk)
            data.append(piece)
            *complete, pending = (pending + piece.replace(b"\r\n", b"\n")).split(b"\n\n")
            outputs = sum(1 for event in complete if carries_output(event))
            if outputs:
                timed.append((float(chunk["ms"]), outputs))
        end = float(chunks[-1]["ms"]) if chunks else 0.0
    except (KeyError, TypeError, ValueError):
        return None
    if not timed:
        return None
    gaps: list[float] = []
    for (before, _), (after, count) in itertools.pairwise(timed):
        gaps.extend([(after - before) / count] * count)
    prompt, output = reported_tokens(b"".join(data))
    events = sum(count for _, count in timed)
    return StreamTiming(timed[0][0], tuple(gaps), end, prompt, output if output is not None else events)
