"""One rule per provider for the end of a stream, applied alike by the SDK, the load generator and the CLI.

OpenAI and Anthropic end with a terminator (``data: [DONE]``, ``event: message_stop``); a
Gemini stream has none and is whole once a candidate carried a ``finishReason`` (the last
frame of a whole answer does; the simulator's ``no_terminator`` cut leaves it out). The
three clients used to disagree: the CLI took any Gemini stream as whole, the SDK took any
stream with a finish reason as whole.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from llm_simulator.cli.client import _stream, _Target
from llm_simulator.cli.output import OperationFailed
from llm_simulator.cli.wire import Turn, chat_request
from llm_simulator.loadgen.client import RequestSpec, prepare, send
from llm_simulator.sdk import APIConnectionError, Client
from llm_simulator.wire.defaults import DEFAULT_MODELS, Provider
from llm_simulator.wire.streams import StreamEnd

_OPENAI_TEXT = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
_OPENAI_FINISH = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
_ANTHROPIC_TEXT = (
    b'event: message_start\ndata: {"type":"message_start","message":{"model":"m","usage":{"input_tokens":1}}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"Hi"}}\n\n'
)
_ANTHROPIC_FINISH = (
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":1}}\n\n'
)
_ANTHROPIC_STOP = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
_GEMINI_TEXT = b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]},"index":0}]}\n\n'
_GEMINI_FINISH = (
    b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"!"}]},"finishReason":"STOP","index":0}],'
    b'"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":2}}\n\n'
)

# (provider, body, whole?)
CASES: list[tuple[Provider, bytes, bool]] = [
    ("openai", _OPENAI_TEXT + _OPENAI_FINISH + b"data: [DONE]\n\n", True),
    # A finish reason is not the end: the terminator is (a cut between them loses usage).
    ("openai", _OPENAI_TEXT + _OPENAI_FINISH, False),
    ("openai", _OPENAI_TEXT, False),
    ("anthropic", _ANTHROPIC_TEXT + _ANTHROPIC_FINISH + _ANTHROPIC_STOP, True),
    ("anthropic", _ANTHROPIC_TEXT + _ANTHROPIC_FINISH, False),
    ("anthropic", _ANTHROPIC_TEXT, False),
    # Gemini has no terminator: the server closes after the frame with the finish reason.
    ("gemini", _GEMINI_TEXT + _GEMINI_FINISH, True),
    ("gemini", _GEMINI_TEXT, False),
]
IDS = [f"{provider}-{'whole' if whole else 'cut'}-{i}" for i, (provider, _, whole) in enumerate(CASES)]


def _respond(body: bytes) -> httpx.MockTransport:
    return httpx.MockTransport(
        lambda request: httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
    )


@pytest.mark.parametrize(("provider", "body", "whole"), CASES, ids=IDS)
def test_the_sdk_applies_the_rule(provider: Provider, body: bytes, whole: bool) -> None:
    with Client("http://sim.test", provider=provider, transport=_respond(body), retry=None) as client:
        if whole:
            assert "Hi" in "".join(event.text for event in client.stream("hi"))
        else:
            with pytest.raises(APIConnectionError, match="final event"):
                list(client.stream("hi"))


@pytest.mark.parametrize(("provider", "body", "whole"), CASES, ids=IDS)
def test_the_load_generator_applies_the_rule(provider: Provider, body: bytes, whole: bool) -> None:
    async def go() -> str | None:
        async with httpx.AsyncClient(transport=_respond(body)) as http:
            spec = RequestSpec(provider=provider, base_url="http://sim.test", model=DEFAULT_MODELS[provider])
            return (await send(http, prepare(spec), 0.0, 5.0)).error

    assert asyncio.run(go()) == (None if whole else "incomplete_stream")


@pytest.mark.parametrize(("provider", "body", "whole"), CASES, ids=IDS)
def test_the_cli_applies_the_rule(provider: Provider, body: bytes, whole: bool) -> None:
    target = _Target("http://sim.test", provider, {}, 5.0)
    request = chat_request(provider, None, [Turn("user", "hi")], stream=True)
    with httpx.Client(transport=_respond(body)) as http:
        if whole:
            assert "Hi" in _stream(http, target, request, lambda piece, event, data: None)
        else:
            with pytest.raises(OperationFailed, match="final event"):
                _stream(http, target, request, lambda piece, event, data: None)


def test_gemini_reads_on_after_the_finish_reason() -> None:
    # Usage may follow the frame with the finish reason: only the server's close ends a Gemini stream.
    end = StreamEnd("gemini")
    assert not end.is_terminator("", '{"candidates":[{"finishReason":"STOP"}]}')
    end.note_frame({"candidates": [{"finishReason": "STOP"}]})
    assert end.complete
    assert not end.over


def test_a_terminator_is_the_end_for_openai_and_anthropic() -> None:
    openai, anthropic = StreamEnd("openai"), StreamEnd("anthropic")
    assert openai.is_terminator("", "[DONE]")
    assert anthropic.is_terminator("message_stop", '{"type":"message_stop"}')
    assert (openai.over, openai.complete, anthropic.over, anthropic.complete) == (True, True, True, True)
    # A Gemini-looking frame does not complete them.
    openai.complete = False
    openai.note_frame({"candidates": [{"finishReason": "STOP"}]})
    assert not openai.complete


def test_ollamas_done_line_is_the_end() -> None:
    end = StreamEnd("ollama")
    assert not end.is_terminator("", '{"done":true}')  # NDJSON has no SSE terminator
    end.note_frame({"message": {"content": "a"}, "done": False})
    assert not end.complete
    end.note_frame({"message": {"content": ""}, "done": True, "eval_count": 3})
    assert (end.over, end.complete) == (True, True)
