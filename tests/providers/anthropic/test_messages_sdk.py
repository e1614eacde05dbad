"""Messages, token counting and the beta path through the official anthropic SDK on a real socket."""

from __future__ import annotations

import anthropic
import pytest
from anthropic.types import MessageParam, TextBlock
from anthropic.types.beta import BetaMessageParam

from llm_simulator.engine.tokenizer import get_tokenizer
from tests.providers.anthropic.helpers import DATED_MODEL, MODEL

MESSAGES: list[MessageParam] = [
    {"role": "user", "content": "Tell me something."},
    {"role": "assistant", "content": "What about?"},
    {"role": "user", "content": [{"type": "text", "text": "Anything at all."}]},
]
BETA_MESSAGES: list[BetaMessageParam] = [{"role": "user", "content": "Tell me something."}]
SYSTEM = "You are terse."


def _seed(value: int) -> dict[str, str]:
    return {"x-simulator-seed": str(value)}


def _text(message: anthropic.types.Message) -> str:
    assert len(message.content) == 1
    block = message.content[0]
    assert isinstance(block, TextBlock)
    return block.text


def _check_message(message: anthropic.types.Message) -> None:
    assert message.id.startswith("msg_") and len(message.id) > 10
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == DATED_MODEL
    assert _text(message)
    usage = message.usage
    assert usage.input_tokens > 0
    assert usage.output_tokens > 0
    assert usage.cache_creation_input_tokens == 0
    assert usage.cache_read_input_tokens == 0
    assert message._request_id and message._request_id.startswith("req_")


def test_create(anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.messages.create(model=MODEL, max_tokens=40, messages=MESSAGES, system=SYSTEM)
    _check_message(message)
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.stop_sequence is None
    assert message.usage.output_tokens <= 40


async def test_create_async(async_anthropic_client: anthropic.AsyncAnthropic) -> None:
    message = await async_anthropic_client.messages.create(model=MODEL, max_tokens=40, messages=MESSAGES)
    _check_message(message)


def test_dated_model_answers_with_itself(anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.messages.create(model=DATED_MODEL, max_tokens=3, messages=MESSAGES)
    assert message.model == DATED_MODEL


def test_request_ids_differ(anthropic_client: anthropic.Anthropic) -> None:
    ids = {anthropic_client.messages.create(model=MODEL, max_tokens=2, messages=MESSAGES)._request_id for _ in range(3)}
    assert len(ids) == 3


def test_input_tokens_follow_the_counting_recipe(anthropic_client: anthropic.Anthropic) -> None:
    message = anthropic_client.messages.create(
        model=MODEL, max_tokens=2, messages=[{"role": "user", "content": "Hi there"}], system=SYSTEM
    )
    tok = get_tokenizer()
    # 3 tokens prime the reply; each turn (the system prompt too) costs its text plus 4.
    assert message.usage.input_tokens == 3 + (4 + tok.count("Hi there")) + (4 + tok.count(SYSTEM))


def test_same_seed_same_text(anthropic_client: anthropic.Anthropic) -> None:
    first, second = (
        anthropic_client.messages.create(model=MODEL, max_tokens=30, messages=MESSAGES, extra_headers=_seed(11))
        for _ in range(2)
    )
    assert _text(first) == _text(second)
    assert first.usage == second.usage
    assert first.id != second.id


def test_stop_sequence(anthropic_client: anthropic.Anthropic) -> None:
    # Lorem-style text is made of sentences; with a fixed seed the stop is certain to occur.
    message = anthropic_client.messages.create(
        model=MODEL, max_tokens=300, messages=MESSAGES, stop_sequences=["zzzz", "."], extra_headers=_seed(5)
    )
    assert message.stop_reason == "stop_sequence"
    assert message.stop_sequence == "."
    assert "." not in _text(message)
    assert 0 < message.usage.output_tokens < 300
    # The same request streamed stops at the same place.
    with anthropic_client.messages.stream(
        model=MODEL, max_tokens=300, messages=MESSAGES, stop_sequences=["zzzz", "."], extra_headers=_seed(5)
    ) as stream:
        streamed = stream.get_final_message()
    assert _text(streamed) == _text(message)
    assert streamed.stop_reason == "stop_sequence"
    assert streamed.stop_sequence == "."


@pytest.mark.parametrize("max_tokens", [1, 5])
def test_max_tokens_reached(anthropic_client: anthropic.Anthropic, max_tokens: int) -> None:
    # The default output length distribution is far above 5, so the cap always binds.
    message = anthropic_client.messages.create(model=MODEL, max_tokens=max_tokens, messages=MESSAGES)
    assert message.stop_reason == "max_tokens"
    assert message.stop_sequence is None
    assert message.usage.output_tokens == max_tokens


def test_stream_matches_create(anthropic_client: anthropic.Anthropic) -> None:
    created = anthropic_client.messages.create(
        model=MODEL, max_tokens=40, messages=MESSAGES, system=SYSTEM, extra_headers=_seed(21)
    )
    with anthropic_client.messages.stream(
        model=MODEL, max_tokens=40, messages=MESSAGES, system=SYSTEM, extra_headers=_seed(21)
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == _text(created)
    assert _text(final) == text
    assert final.usage == created.usage
    assert final.stop_reason == created.stop_reason
    assert final.stop_sequence == created.stop_sequence
    assert final.model == DATED_MODEL
    assert final.id.startswith("msg_") and final.id != created.id
    assert stream.request_id and stream.request_id.startswith("req_")
    assert stream.response.headers["content-type"].startswith("text/event-stream")


async def test_stream_matches_create_async(async_anthropic_client: anthropic.AsyncAnthropic) -> None:
    client = async_anthropic_client
    created = await client.messages.create(model=MODEL, max_tokens=40, messages=MESSAGES, extra_headers=_seed(22))
    async with client.messages.stream(model=MODEL, max_tokens=40, messages=MESSAGES, extra_headers=_seed(22)) as stream:
        text = "".join([chunk async for chunk in stream.text_stream])
        final = await stream.get_final_message()
    assert text == _text(created)
    assert final.usage == created.usage
    assert final.stop_reason == created.stop_reason


def test_raw_stream_event_order(anthropic_client: anthropic.Anthropic) -> None:
    stream = anthropic_client.messages.create(model=MODEL, max_tokens=6, messages=MESSAGES, stream=True)
    events = list(stream)
    types = [e.type for e in events]
    assert types == (
        ["message_start", "content_block_start"]
        + ["content_block_delta"] * 6
        + ["content_block_stop", "message_delta", "message_stop"]
    )
    start = events[0]
    assert start.type == "message_start"
    assert start.message.content == []
    assert start.message.stop_reason is None
    assert start.message.model == DATED_MODEL
    delta = events[-2]
    assert delta.type == "message_delta"
    assert delta.delta.stop_reason == "max_tokens"
    assert delta.usage.output_tokens == 6


async def test_raw_stream_async(async_anthropic_client: anthropic.AsyncAnthropic) -> None:
    stream = await async_anthropic_client.messages.create(model=MODEL, max_tokens=4, messages=MESSAGES, stream=True)
    types = [event.type async for event in stream]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    assert types.count("content_block_delta") == 4


def test_count_tokens_matches_create(anthropic_client: anthropic.Anthropic) -> None:
    counted = anthropic_client.messages.count_tokens(model=MODEL, messages=MESSAGES, system=SYSTEM)
    created = anthropic_client.messages.create(model=MODEL, max_tokens=2, messages=MESSAGES, system=SYSTEM)
    assert counted.input_tokens == created.usage.input_tokens
    assert counted._request_id and counted._request_id.startswith("req_")
    without_system = anthropic_client.messages.count_tokens(model=MODEL, messages=MESSAGES)
    assert without_system.input_tokens < counted.input_tokens


async def test_count_tokens_async(async_anthropic_client: anthropic.AsyncAnthropic) -> None:
    counted = await async_anthropic_client.messages.count_tokens(model=MODEL, messages=MESSAGES)
    created = await async_anthropic_client.messages.create(model=MODEL, max_tokens=2, messages=MESSAGES)
    assert counted.input_tokens == created.usage.input_tokens


def test_beta_messages(anthropic_client: anthropic.Anthropic) -> None:
    raw = anthropic_client.beta.messages.with_raw_response.create(
        model=MODEL, max_tokens=5, messages=BETA_MESSAGES, betas=["context-1m-2025-08-07"]
    )
    assert raw.http_request.headers["anthropic-beta"] == "context-1m-2025-08-07"
    message = raw.parse()
    assert message.id.startswith("msg_")
    assert message.model == DATED_MODEL
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 5
    counted = anthropic_client.beta.messages.count_tokens(model=MODEL, messages=BETA_MESSAGES)
    assert counted.input_tokens == message.usage.input_tokens


def test_beta_query_parameter(anthropic_client: anthropic.Anthropic) -> None:
    """Earlier SDKs call the beta namespace as ``POST /v1/messages?beta=true``; 2.10 only tags it."""
    raw = anthropic_client.beta.messages.with_raw_response.create(
        model=MODEL, max_tokens=3, messages=BETA_MESSAGES, extra_query={"beta": "true"}
    )
    assert raw.http_request.url.params.get("beta") == "true"
    assert raw.parse().usage.output_tokens == 3
    with anthropic_client.beta.messages.stream(
        model=MODEL, max_tokens=3, messages=BETA_MESSAGES, extra_query={"beta": "true"}
    ) as stream:
        final = stream.get_final_message()
    assert final.usage.output_tokens == 3
    counted = anthropic_client.beta.messages.count_tokens(
        model=MODEL, messages=BETA_MESSAGES, extra_query={"beta": "true"}
    )
    assert counted.input_tokens == final.usage.input_tokens


# -- Errors through the SDK -------------------------------------------------------------------


def test_unknown_model_is_not_found(anthropic_client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as info:
        anthropic_client.messages.create(model="claude-nonexistent-9", max_tokens=5, messages=MESSAGES)
    assert info.value.status_code == 404
    body = info.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "not_found_error"
    assert "claude-nonexistent-9" in body["error"]["message"]
    assert info.value.request_id and info.value.request_id.startswith("req_")


async def test_unknown_model_is_not_found_async(async_anthropic_client: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.NotFoundError):
        await async_anthropic_client.messages.create(model="claude-nonexistent-9", max_tokens=5, messages=MESSAGES)


def test_unknown_model_on_stream(anthropic_client: anthropic.Anthropic) -> None:
    with (
        pytest.raises(anthropic.NotFoundError),
        anthropic_client.messages.stream(model="claude-nonexistent-9", max_tokens=5, messages=MESSAGES) as stream,
    ):
        stream.get_final_message()


def test_missing_max_tokens(anthropic_client: anthropic.Anthropic) -> None:
    # The SDK requires max_tokens, so post the body by hand.
    with pytest.raises(anthropic.BadRequestError) as info:
        anthropic_client.post("/v1/messages", cast_to=object, body={"model": MODEL, "messages": MESSAGES})
    body = info.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]


def test_system_role_in_messages(anthropic_client: anthropic.Anthropic) -> None:
    # SDK 2.10 types allow {"role": "system"} turns (mid-conversation system messages), but the
    # API accepts them only on models that support the feature; Haiku 4.5 does not, and a
    # leading one is invalid anywhere.
    with pytest.raises(anthropic.BadRequestError) as info:
        anthropic_client.messages.create(
            model=MODEL, max_tokens=5, messages=[{"role": "system", "content": "Be terse."}, *MESSAGES]
        )
    body = info.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "invalid_request_error"
    assert "messages.0" in body["error"]["message"]


def test_empty_messages(anthropic_client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        anthropic_client.messages.create(model=MODEL, max_tokens=5, messages=[])
    assert "messages" in info.value.message


def test_max_tokens_above_model_limit(anthropic_client: anthropic.Anthropic) -> None:
    # An explicit timeout keeps the SDK from refusing a large non-streaming max_tokens itself.
    with pytest.raises(anthropic.BadRequestError) as info:
        anthropic_client.messages.create(model=MODEL, max_tokens=1_000_000, messages=MESSAGES, timeout=30)
    body = info.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("max_tokens:")
    assert "64000" in body["error"]["message"]


def test_max_tokens_above_model_limit_on_stream(anthropic_client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client.messages.create(model=MODEL, max_tokens=64_001, messages=MESSAGES, stream=True)


def test_bad_seed_header(anthropic_client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        anthropic_client.messages.create(
            model=MODEL, max_tokens=5, messages=MESSAGES, extra_headers={"x-simulator-seed": "seven"}
        )
    assert "x-simulator-seed" in info.value.message
