"""The one reader of recorded streams (proxy replay pacing, ``cassette to-profile``, the latency lens)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import pytest

from llm_simulator.wire.recorded import carries_output, part_bytes, reported_tokens, split_events, stream_timing


def sse(data: str, event: str | None = None) -> bytes:
    """One SSE event as an upstream sends it."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


@pytest.mark.parametrize(
    "event",
    [
        sse('{"choices":[{"index":0,"delta":{"content":"Hi"}}]}'),
        sse('{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}}]}'),
        sse(
            '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}', "content_block_delta"
        ),
        sse('{"type":"response.output_text.delta","delta":"Hi"}', "response.output_text.delta"),
        sse('{"type":"response.function_call_arguments.delta","delta":"{"}'),
        # Gemini writes its JSON with spaces after the colons.
        sse('{"candidates": [{"content": {"parts": [{"text": "Hi"}], "role": "model"}}]}'),
        sse('{"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {}}}]}}]}'),
    ],
)
def test_output_events_of_every_provider_count(event: bytes) -> None:
    assert carries_output(event)


@pytest.mark.parametrize(
    "event",
    [
        sse('{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}'),
        sse('{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'),
        # The Responses API repeats the whole answer as it closes: that is not another token.
        sse('{"type":"response.output_text.done","text":"Hi there"}'),
        sse('{"type":"response.completed","response":{"output":[{"content":[{"text":"Hi there"}]}]}}'),
        b"data: [DONE]\n\n",
        b"data: {not json\n\n",
        b": a comment\n\n",
    ],
)
def test_events_without_new_output_do_not(event: bytes) -> None:
    assert not carries_output(event)


def test_split_events_join_back_to_the_bytes() -> None:
    data = sse("{}") + sse("[1]") + b"data: half"
    assert split_events(data) == [sse("{}"), sse("[1]"), b"data: half"]
    assert b"".join(split_events(data)) == data


def test_parts_are_text_or_base64() -> None:
    assert part_bytes({"text": "é"}) == "é".encode()
    assert part_bytes({"b64": base64.b64encode(b"\xff\x00").decode()}) == b"\xff\x00"
    with pytest.raises(binascii.Error):
        part_bytes({"b64": "not base64!"})


def test_usage_is_the_largest_reported() -> None:
    stream = b'{"usage":{"input_tokens": 12,"output_tokens":1}} {"usage":{"output_tokens":7}}'
    assert reported_tokens(stream) == (12, 7)
    assert reported_tokens(b'{"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4}}') == (3, 4)
    assert reported_tokens(b"{}") == (None, None)


def chunk(ms: float, *events: bytes) -> dict[str, Any]:
    """A recorded chunk: the bytes that came off the socket together, at ``ms``."""
    return {"ms": ms, "text": b"".join(events).decode()}


TOKEN = sse('{"choices":[{"delta":{"content":"x"}}]}')


def test_stream_timing_spreads_a_chunks_gap_over_its_events() -> None:
    opening = sse('{"choices":[{"delta":{"role":"assistant","content":""}}]}')
    usage = sse('{"choices":[],"usage":{"prompt_tokens":40,"completion_tokens":9}}')
    timing = stream_timing([chunk(5, opening), chunk(100, TOKEN), chunk(160, TOKEN, TOKEN, TOKEN), chunk(170, usage)])
    assert timing is not None
    assert timing.ttft_ms == 100.0 and timing.e2e_ms == 170.0
    assert timing.gaps_ms == (20.0, 20.0, 20.0)  # 60 ms for three coalesced events, not 60, 0, 0
    assert (timing.prompt_tokens, timing.output_tokens) == (40, 9)


def test_an_event_split_across_chunks_counts_when_it_completes() -> None:
    first, second = TOKEN[:10], TOKEN[10:]
    timing = stream_timing([chunk(50, TOKEN), {"ms": 80, "text": first.decode()}, {"ms": 90, "text": second.decode()}])
    assert timing is not None
    assert timing.gaps_ms == (40.0,)
    assert timing.output_tokens == 2  # no usage reported: the output events


@pytest.mark.parametrize(
    "chunks",
    [
        [],
        [chunk(10, sse('{"choices":[{"delta":{"role":"assistant"}}]}'))],
        [{"ms": 10, "b64": "not base64!"}],
        [{"text": TOKEN.decode()}],  # no offset
    ],
)
def test_a_stream_without_readable_output_has_no_timing(chunks: list[dict[str, Any]]) -> None:
    assert stream_timing(chunks) is None
