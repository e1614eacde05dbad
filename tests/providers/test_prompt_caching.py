"""Prompt caching on a load-aware engine, through the official SDKs on a real socket.

One simulator serves every chat model from the ``vllm-h100-70b-tp4`` preset (prefix caching
on). Each test uses its own long system prompt, so no test reads another's cache. The
per-API rules (minimums, 128-token steps, breakpoints, ttl) are unit-tested at the end.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types

from tests.live import LiveServer, live_server
from tests.providers.gemini.conftest import make_client

_NONCE = itertools.count()


def long_prompt(rules: int = 400) -> str:
    """A system prompt of about 14 tokens per rule, unique to the caller (no shared cache)."""
    tag = f"case {next(_NONCE)} {time.monotonic_ns()}"
    return tag + " " + " ".join(f"Rule {i}: be concise and accurate about topic {i}." for i in range(rules))


@pytest.fixture(scope="module")
def engine_server() -> Iterator[LiveServer]:
    """A simulator whose chat models run on a 70B preset with prefix caching."""
    with live_server("--engine", "vllm-h100-70b-tp4", "--seed", "3") as live:
        yield live


@pytest.fixture(scope="module")
def oai(engine_server: LiveServer) -> Iterator[openai.OpenAI]:
    """The official OpenAI client, strict validation, no retries."""
    with openai.OpenAI(
        base_url=engine_server.openai_base, api_key="k", max_retries=0, _strict_response_validation=True
    ) as client:
        yield client


@pytest.fixture(scope="module")
def claude(engine_server: LiveServer) -> Iterator[anthropic.Anthropic]:
    """The official Anthropic client, strict validation, no retries."""
    with anthropic.Anthropic(
        base_url=engine_server.url, api_key="k", max_retries=0, _strict_response_validation=True
    ) as client:
        yield client


@pytest.fixture(scope="module")
def gemini(engine_server: LiveServer) -> Iterator[genai.Client]:
    """The google-genai client (v1beta)."""
    with make_client(engine_server.url, "v1beta") as client:
        yield client


def _chat_stream(client: openai.OpenAI, system: str, question: str) -> tuple[float, openai.types.CompletionUsage]:
    """(time to first content chunk, final usage) of a streamed chat completion."""
    started = time.monotonic()
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": system}, {"role": "user", "content": question}],
        max_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    ttft = None
    usage = None
    for chunk in stream:
        if ttft is None and chunk.choices:
            ttft = time.monotonic() - started
        if chunk.usage is not None:
            usage = chunk.usage
    assert ttft is not None and usage is not None
    return ttft, usage


# -- OpenAI -----------------------------------------------------------------------------


def test_openai_chat_second_turn_reads_the_cache_and_starts_sooner(oai: openai.OpenAI) -> None:
    system = long_prompt()  # ≈ 5600 tokens: three prefill chunks of 2048 on the preset
    _chat_stream(oai, long_prompt(), "warm the server up")
    cold_ttft, cold = _chat_stream(oai, system, "first question")
    warm_ttft, warm = _chat_stream(oai, system, "a different second question")
    assert cold.prompt_tokens_details is not None and warm.prompt_tokens_details is not None
    assert cold.prompt_tokens_details.cached_tokens == 0
    cached = warm.prompt_tokens_details.cached_tokens
    assert cached is not None
    # OpenAI's rule: a hit of at least 1024 tokens, in 128-token steps, never the whole prompt.
    assert 1024 <= cached < warm.prompt_tokens and cached % 128 == 0
    assert cached >= warm.prompt_tokens - 128 - 40  # all but the question's block and the rounding
    # The engine skips the cached prefill (≈ 0.5 s of it on this preset): far below the cold TTFT.
    assert warm_ttft < cold_ttft


def test_openai_chat_below_1024_tokens_reports_no_cached_tokens(oai: openai.OpenAI) -> None:
    system = long_prompt(rules=40)  # ≈ 600 tokens: the engine caches it, the API reports nothing
    for _ in range(2):
        response = oai.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": system}, {"role": "user", "content": "hi"}],
            max_tokens=2,
        )
        assert response.usage is not None and response.usage.prompt_tokens_details is not None
        assert response.usage.prompt_tokens < 1024
        assert response.usage.prompt_tokens_details.cached_tokens == 0


def test_openai_responses_reports_cached_input_tokens(oai: openai.OpenAI) -> None:
    instructions = long_prompt()
    first = oai.responses.create(model="gpt-4o-mini", instructions=instructions, input="one", max_output_tokens=16)
    second = oai.responses.create(model="gpt-4o-mini", instructions=instructions, input="two", max_output_tokens=16)
    assert first.usage is not None and second.usage is not None
    assert first.usage.input_tokens_details.cached_tokens == 0
    cached = second.usage.input_tokens_details.cached_tokens
    assert cached >= 1024 and cached % 128 == 0 and cached < second.usage.input_tokens


def test_openai_responses_stream_completed_event_carries_the_cache_hit(oai: openai.OpenAI) -> None:
    instructions = long_prompt()
    oai.responses.create(model="gpt-4o-mini", instructions=instructions, input="one", max_output_tokens=16)
    events = list(
        oai.responses.create(
            model="gpt-4o-mini", instructions=instructions, input="two", max_output_tokens=16, stream=True
        )
    )
    last = events[-1]
    assert last.type in ("response.completed", "response.incomplete")  # 16 tokens may cut the answer
    usage = last.response.usage
    assert usage is not None and usage.input_tokens_details.cached_tokens >= 1024


# -- Anthropic --------------------------------------------------------------------------


def _system(text: str, ttl: str | None = None) -> list[anthropic.types.TextBlockParam]:
    control: anthropic.types.CacheControlEphemeralParam = {"type": "ephemeral"}
    if ttl is not None:
        control["ttl"] = ttl  # type: ignore[typeddict-item]
    return [{"type": "text", "text": text, "cache_control": control}]


def _ask(
    client: anthropic.Anthropic, system: Any, question: str, model: str = "claude-sonnet-4-5"
) -> anthropic.types.Message:
    return client.messages.create(
        model=model, max_tokens=4, system=system, messages=[{"role": "user", "content": question}]
    )


def test_anthropic_breakpoint_writes_then_reads_the_prefix(claude: anthropic.Anthropic) -> None:
    system = _system(long_prompt())
    first = _ask(claude, system, "first question")
    second = _ask(claude, system, "a different second question")
    total = claude.messages.count_tokens(
        model="claude-sonnet-4-5", system=system, messages=[{"role": "user", "content": "a different second question"}]
    ).input_tokens
    assert first.usage.cache_read_input_tokens == 0
    written = first.usage.cache_creation_input_tokens
    assert written is not None and written > 4000
    assert first.usage.cache_creation is not None
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == written
    assert first.usage.cache_creation.ephemeral_1h_input_tokens == 0
    # The second request reads exactly what the first wrote; only its question is input.
    assert second.usage.cache_read_input_tokens == written
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens + written == total
    assert second.usage.input_tokens < 30


def test_anthropic_without_cache_control_caches_nothing(claude: anthropic.Anthropic) -> None:
    system = long_prompt()
    for _ in range(2):
        usage = _ask(claude, system, "question").usage
        assert usage.cache_read_input_tokens == 0 and usage.cache_creation_input_tokens == 0
        assert usage.input_tokens > 4000


def test_anthropic_one_hour_ttl_is_reported_apart(claude: anthropic.Anthropic) -> None:
    usage = _ask(claude, _system(long_prompt(), ttl="1h"), "question").usage
    assert usage.cache_creation is not None
    assert usage.cache_creation.ephemeral_1h_input_tokens == usage.cache_creation_input_tokens
    assert (usage.cache_creation_input_tokens or 0) > 4000
    assert usage.cache_creation.ephemeral_5m_input_tokens == 0


def test_anthropic_prefix_below_the_model_minimum_is_not_cached(claude: anthropic.Anthropic) -> None:
    # ≈ 1500 tokens: enough for Sonnet (1024), too little for Haiku 3.5 (2048).
    system = _system(long_prompt(rules=105))
    sonnet = [_ask(claude, system, "q").usage for _ in range(2)]
    haiku = [_ask(claude, system, "q", model="claude-3-5-haiku-20241022").usage for _ in range(2)]
    assert sonnet[0].cache_creation_input_tokens and sonnet[1].cache_read_input_tokens
    for usage in haiku:
        assert usage.cache_read_input_tokens == 0 and usage.cache_creation_input_tokens == 0


def test_anthropic_stream_reports_the_cache_in_message_start_and_delta(
    claude: anthropic.Anthropic, engine_server: LiveServer
) -> None:
    system = _system(long_prompt())
    written = _ask(claude, system, "first").usage.cache_creation_input_tokens
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4,
        "stream": True,
        "system": system,
        "messages": [{"role": "user", "content": "second"}],
    }
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    text = httpx.post(engine_server.url + "/v1/messages", json=body, headers=headers, timeout=30).text
    start = next(line for line in text.splitlines() if line.startswith('data: {"type":"message_start"'))
    delta = next(line for line in text.splitlines() if line.startswith('data: {"type":"message_delta"'))
    for line in (start, delta):
        assert f'"cache_read_input_tokens":{written}' in line and '"cache_creation_input_tokens":0' in line
    with claude.messages.stream(
        model="claude-sonnet-4-5", max_tokens=4, system=system, messages=[{"role": "user", "content": "third"}]
    ) as stream:
        assert stream.get_final_message().usage.cache_read_input_tokens == written


def test_anthropic_more_than_four_breakpoints_is_a_400(claude: anthropic.Anthropic) -> None:
    blocks = [{"type": "text", "text": f"part {i}", "cache_control": {"type": "ephemeral"}} for i in range(5)]
    with pytest.raises(anthropic.BadRequestError, match="A maximum of 4 blocks with cache_control"):
        _ask(claude, blocks, "q")


def test_anthropic_bad_ttl_is_a_400(claude: anthropic.Anthropic) -> None:
    system = [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "2h"}}]
    with pytest.raises(anthropic.BadRequestError, match="ttl"):
        _ask(claude, system, "q")


def test_anthropic_without_an_engine_reports_zeros(server: LiveServer) -> None:
    with anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0) as client:
        system = _system(long_prompt())
        for _ in range(2):
            usage = _ask(client, system, "q").usage
            assert usage.cache_read_input_tokens == 0 and usage.cache_creation_input_tokens == 0


# -- Gemini -----------------------------------------------------------------------------


def _generate(
    client: genai.Client, model: str, system: str, question: str
) -> types.GenerateContentResponseUsageMetadata:
    response = client.models.generate_content(
        model=model,
        contents=question,
        config=types.GenerateContentConfig(system_instruction=system, max_output_tokens=4),
    )
    assert response.usage_metadata is not None
    return response.usage_metadata


def test_gemini_implicit_cache_hit_is_reported(gemini: genai.Client) -> None:
    system = long_prompt()
    first = _generate(gemini, "gemini-2.5-flash", system, "one")
    second = _generate(gemini, "gemini-2.5-flash", system, "two")
    assert first.cached_content_token_count is None and first.cache_tokens_details is None
    cached = second.cached_content_token_count
    assert cached is not None and 4000 < cached < (second.prompt_token_count or 0)
    assert second.cache_tokens_details is not None
    assert second.cache_tokens_details[0].token_count == cached


def test_gemini_stream_final_chunk_carries_the_hit(gemini: genai.Client) -> None:
    system = long_prompt()
    _generate(gemini, "gemini-2.5-flash", system, "one")
    config = types.GenerateContentConfig(system_instruction=system, max_output_tokens=4)
    chunks = list(gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="two", config=config))
    final = chunks[-1].usage_metadata
    assert final is not None and (final.cached_content_token_count or 0) > 4000


def test_gemini_without_implicit_caching_or_below_minimum_reports_nothing(gemini: genai.Client) -> None:
    system = long_prompt()
    older = [_generate(gemini, "gemini-2.0-flash", system, "q") for _ in range(2)]
    short = long_prompt(rules=100)  # ≈ 1400 tokens: above Flash's 1024, below Pro's 2048
    pro = [_generate(gemini, "gemini-2.5-pro", short, "q") for _ in range(2)]
    for usage in [*older, *pro]:
        assert usage.cached_content_token_count is None


def test_anthropic_conversation_reads_the_earlier_turns_and_writes_the_new_one(claude: anthropic.Anthropic) -> None:
    tools: Any = [{"name": "lookup", "description": "Look a topic up.", "input_schema": {"type": "object"}}]
    system = _system(long_prompt())

    def turn(messages: list[dict[str, object]]) -> anthropic.types.Usage:
        marked: Any = [
            *messages[:-1],
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": str(messages[-1]["content"]), "cache_control": {"type": "ephemeral"}}
                ],
            },
        ]
        return claude.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=4,
            system=system,
            tools=tools,
            messages=marked,
        ).usage

    history: list[dict[str, object]] = [{"role": "user", "content": "first question " + "word " * 200}]
    first = turn(history)
    history += [{"role": "assistant", "content": "an answer"}, {"role": "user", "content": "follow-up"}]
    second = turn(history)
    assert first.cache_read_input_tokens == 0
    # The tools, the system prompt and the first turn come from the cache (to a block);
    # only the new turns are written.
    read = second.cache_read_input_tokens or 0
    assert first.cache_creation_input_tokens - 16 <= read <= first.cache_creation_input_tokens  # type: ignore[operator]
    assert 0 < (second.cache_creation_input_tokens or 0) < 60
