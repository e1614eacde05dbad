"""The Live hot path (``live_text``): a text token's frame made from the Gemini encoder's bytes.

The parsing path reads each chunk of the model's ``streamGenerateContent`` stream, picks its
text parts and serialises the ``serverContent.modelTurn`` message; the hot path lifts the
token's JSON string out of the chunk. Each test takes chunks from the real encoder
(``ChunkWriter``) and compares the two paths on text an escaper can get wrong.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.core.types import ChoicePlan, FinishReason
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.gemini.chunks import ChunkWriter
from llm_simulator.server.websocket.live_text import model_turn, plain_text
from tests.providers.test_plain_frames import TRICKY, plan_of

MORE_TRICKY = [
    '"}],"role":"model"},"index":0}],"usageMetadata":',  # the tail the hot path looks for
    '\\"}],\\"role',
    "\\",
    "\u2028",  # escaped by the encoder only: must go the parsing way
    "a\x85b",
]


@pytest.fixture(scope="module")
def writer() -> ChunkWriter:
    """The Gemini stream's chunk writer for a two-candidate plan (its data, unframed)."""
    sim = Simulator(load_config(flags={"latency.enabled": False}))
    plan = plan_of(sim, ["a", "b"], FinishReason.LENGTH)
    plan.choices.append(ChoicePlan(1, ["c"], FinishReason.LENGTH))
    return ChunkWriter(plan, "resp-test")


def old_frame(data: bytes) -> str | None:
    """What the parsing path sent for a chunk of text (None when it sent nothing)."""
    chunk = orjson.loads(data)
    (candidate,) = chunk["candidates"]
    parts = [p for p in candidate["content"]["parts"] if not p.get("thought")]
    text = "".join(str(p.get("text", "")) for p in parts if "text" in p)
    if not text:
        return None
    return orjson.dumps({"serverContent": {"modelTurn": {"role": "model", "parts": [{"text": text}]}}}).decode()


@pytest.mark.parametrize("text", TRICKY + MORE_TRICKY)
def test_a_text_token_frame_is_the_parsing_paths_frame_byte_for_byte(writer: ChunkWriter, text: str) -> None:
    data = writer.token(0, text)
    plain = plain_text(data)
    if any(mark in text for mark in ("\u2028", "\u2029", "\x85")):
        assert plain is None  # the encoder escaped a line break orjson leaves raw
        return
    assert plain is not None
    string, said = plain
    assert said == text
    if text:
        assert model_turn(string) == old_frame(data)
        assert orjson.loads(model_turn(string))["serverContent"]["modelTurn"]["parts"] == [{"text": text}]
    else:
        assert old_frame(data) is None  # an empty token: neither path sends a frame


def chunks_left_to_parsing(writer: ChunkWriter) -> list[bytes]:
    """Chunks that are not one token of candidate 0 going on."""
    thought_then_text = orjson.dumps([{"text": "hm", "thought": True}, {"text": "b"}])
    return [
        writer.token(1, "second candidate"),
        writer.finish(0, "last", FinishReason.LENGTH, True),
        writer.parts(0, thought_then_text, None, False),
        writer.parts(0, orjson.dumps([{"functionCall": {"name": "f", "args": {}}}]), None, False),
        writer.blocked(0, True),
        b'{"candidates": [{"content": {"parts": [{"text": "tr',  # the malformed chaos chunk
        writer.token(0, "cut")[:-40],
        b'{"error":{"code":500,"message":"boom","status":"INTERNAL"}}',
    ]


def test_anything_but_one_plain_token_is_left_to_the_parsing_path(writer: ChunkWriter) -> None:
    for data in chunks_left_to_parsing(writer):
        assert plain_text(data) is None, data


def test_a_turn_through_both_paths_keeps_the_same_history(writer: ChunkWriter) -> None:
    tokens = ["Hi", ' "there"', "", "\\n"]
    said: list[dict[str, Any]] = []
    for token in tokens:
        plain = plain_text(writer.token(0, token))
        assert plain is not None
        said.append({"text": plain[1]})
    parsed = [orjson.loads(writer.token(0, token))["candidates"][0]["content"]["parts"][0] for token in tokens]
    assert said == parsed
