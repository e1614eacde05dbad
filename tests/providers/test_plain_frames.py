"""A plain stream's fast path (``core.plain``) frames every token exactly as the provider's generator does.

For OpenAI chat (with and without the usage chunk), Anthropic messages and Gemini's SSE
chunks, the synchronous encoder's frames — the first token's, each middle token's, the
last token's with the stream's end — are compared byte for byte, and frame for frame
(the server counts them as chunks), with what the provider's frames generator yields for
the same plan, over text that needs every kind of JSON escaping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from llm_simulator.config import load_config
from llm_simulator.core.plain import TokenFrames
from llm_simulator.core.sse import DATA, END
from llm_simulator.core.types import ChoicePlan, Endpoint, FinishReason, GenerationPlan, GenerationRequest, Message
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.anthropic.messages import EventWriter, MessageTokens, stream_events
from llm_simulator.providers.gemini.chunks import CandidateTokens, stream_chunks
from llm_simulator.providers.gemini.chunks import ChunkWriter as GeminiWriter
from llm_simulator.providers.openai.chat import stream_frames
from llm_simulator.providers.openai.chat_chunks import ChatTokens, ChunkWriter

# Quotes, backslashes, every kind of control character, DEL, non-ASCII, non-BMP (a
# surrogate pair in JSON's \u form, raw UTF-8 here), the line separators Gemini escapes, an
# HTML-looking token, an empty token and a very long one.
TRICKY = [
    "Hello",
    ' "quoted" ',
    "back\\slash\\",
    "tab\there",
    "new\nline\r\n",
    "\x00\x01\x08\x0c\x1b\x1f",
    "\x7f",
    "café",
    "中文",
    "😀",
    "a\U0001f680b",
    "\u2028\u2029\x85",
    "</script>",
    "",
    '{"json": [1, 2]}',
    "x" * 20_000 + '"\\',
]
CASES = {
    "tricky": TRICKY,
    "one token": ["only"],
    "one tricky token": ['"\\\n\u2028😀'],
    "two tokens": ["\x00", "😀\\"],
    "empty tokens": ["", "", ""],
}

Collect = Callable[[Simulator, GenerationPlan], tuple[AsyncIterator[bytes], TokenFrames]]


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(load_config(flags={"latency.enabled": False}))


def plan_of(sim: Simulator, tokens: list[str], reason: FinishReason) -> GenerationPlan:
    """A plan whose one choice is exactly ``tokens`` (a plain text choice)."""
    request = GenerationRequest(
        model="gpt-4.1",
        endpoint=Endpoint.CHAT,
        messages=(Message("user", "Say something tricky."),),
        prompt_tokens=5,
        max_tokens=len(tokens),
    )
    return GenerationPlan(request, [ChoicePlan(0, list(tokens), reason)], "fp_test")


def openai(include_usage: bool) -> Collect:
    def build(sim: Simulator, plan: GenerationPlan) -> tuple[AsyncIterator[bytes], TokenFrames]:
        writer = ChunkWriter(plan, "chatcmpl-test", 1_700_000_000, include_usage)
        timeline = sim.generation_timeline(_spec(sim), plan, 1)
        frames = stream_frames(sim, plan, timeline, writer, include_usage)
        return frames, ChatTokens(writer, plan.choices[0], include_usage)

    return build


def anthropic(sim: Simulator, plan: GenerationPlan) -> tuple[AsyncIterator[bytes], TokenFrames]:
    writer = EventWriter(plan, "msg_test")
    frames = stream_events(sim, plan, sim.generation_timeline(_spec(sim), plan, 1), writer)
    return frames, MessageTokens(writer, plan.choices[0])


def gemini(sim: Simulator, plan: GenerationPlan) -> tuple[AsyncIterator[bytes], TokenFrames]:
    writer = GeminiWriter(plan, "resp-test", DATA, END)
    frames = stream_chunks(sim, plan, sim.generation_timeline(_spec(sim), plan, 1), writer)
    return frames, CandidateTokens(writer, plan.choices[0])


def _spec(sim: Simulator) -> ModelSpec:
    spec = sim.resolve_model("gpt-4.1", "openai")
    assert spec is not None
    return spec


PROVIDERS: dict[str, Collect] = {
    "openai": openai(False),
    "openai with usage": openai(True),
    "anthropic": anthropic,
    "gemini sse": gemini,
}


def fast_frames(encoder: TokenFrames, tokens: list[str]) -> list[bytes]:
    """The frames the server's plain loop writes for ``tokens``, in the generator's granularity."""
    last = len(tokens) - 1
    frames = encoder.first(tokens[0], last == 0)
    for text in tokens[1:last]:
        frames.append(encoder.token(text))
    if last > 0:
        frames += encoder.last(tokens[last])
    return frames


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
@pytest.mark.parametrize("reason", [FinishReason.LENGTH, FinishReason.STOP])
async def test_the_fast_encoder_yields_the_generators_frames_byte_for_byte(
    sim: Simulator, provider: str, case: str, reason: FinishReason
) -> None:
    tokens = CASES[case]
    generated, _ = PROVIDERS[provider](sim, plan_of(sim, tokens, reason))
    expected = [frame async for frame in generated]
    _, encoder = PROVIDERS[provider](sim, plan_of(sim, tokens, reason))
    assert fast_frames(encoder, tokens) == expected
    if case == "tricky":
        assert b"\\u0000" in b"".join(expected) and "😀".encode() in b"".join(expected)  # escaped, raw UTF-8
