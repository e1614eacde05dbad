"""Chat completions through the official openai SDK against a real socket."""

from __future__ import annotations

import asyncio

import openai
import pytest

from llm_simulator.engine.tokenizer import get_tokenizer

MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Tell me something."},
]


def test_create_returns_valid_completion(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=50)
    assert resp.object == "chat.completion"
    assert resp.id.startswith("chatcmpl-")
    assert resp.model == "gpt-4o-mini"
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert resp.usage is not None
    tok = get_tokenizer()
    assert resp.usage.completion_tokens == tok.count(choice.message.content)
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert resp.system_fingerprint and resp.system_fingerprint.startswith("fp_")
    assert resp._request_id and resp._request_id.startswith("req_")


def test_prompt_tokens_follow_chat_counting_recipe(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=5)
    tok = get_tokenizer()
    expected = 3 + sum(3 + tok.count(m["role"]) + tok.count(str(m["content"])) for m in MESSAGES)
    assert resp.usage is not None
    assert resp.usage.prompt_tokens == expected


def test_max_tokens_is_exact_with_ignore_eos(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, max_tokens=5, extra_body={"ignore_eos": True}
    )
    assert resp.usage is not None
    assert resp.usage.completion_tokens == 5
    assert resp.choices[0].finish_reason == "length"
    assert get_tokenizer().count(resp.choices[0].message.content or "") == 5


def test_max_tokens_five_gives_five_tokens_and_length(client: openai.OpenAI) -> None:
    # The default output length distribution is far above 5, so the cap always binds.
    for _ in range(5):
        resp = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_completion_tokens=5)
        assert resp.usage is not None and resp.usage.completion_tokens == 5
        assert resp.choices[0].finish_reason == "length"


def test_n_three_with_logprobs(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, n=3, logprobs=True, top_logprobs=2, max_tokens=12
    )
    assert [c.index for c in resp.choices] == [0, 1, 2]
    total = 0
    for choice in resp.choices:
        assert choice.logprobs is not None and choice.logprobs.content is not None
        tokens = [lp.token for lp in choice.logprobs.content]
        assert "".join(tokens) == choice.message.content
        for lp in choice.logprobs.content:
            assert lp.logprob <= 0
            assert len(lp.top_logprobs) == 2
            assert lp.top_logprobs[0].token == lp.token
            assert lp.bytes == list(lp.token.encode())
        total += len(tokens)
    assert resp.usage is not None and resp.usage.completion_tokens == total


def test_stream_role_first_usage_last_and_matches_non_stream(client: openai.OpenAI) -> None:
    kwargs = {"model": "gpt-4o", "messages": MESSAGES, "max_tokens": 40, "seed": 1234}
    full = client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
    chunks = list(
        client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True})  # type: ignore[call-overload]
    )
    roles = [c.choices[0].delta.role for c in chunks if c.choices]
    assert roles[0] == "assistant"
    assert all(r is None for r in roles[1:])
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    assert full.system_fingerprint == chunks[0].system_fingerprint
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert chunks[-1].usage.completion_tokens == len(content_chunks)
    assert full.usage is not None and full.usage.completion_tokens == len(content_chunks)
    assert len({c.id for c in chunks}) == 1


def test_stream_without_include_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=4, stream=True))
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "length"


def test_same_seed_same_output_different_seed_differs(client: openai.OpenAI) -> None:
    a = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=30, seed=99)
    b = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=30, seed=99)
    c = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=30, seed=100)
    assert a.choices[0].message.content == b.choices[0].message.content
    assert a.system_fingerprint == b.system_fingerprint
    assert a.choices[0].message.content != c.choices[0].message.content


def test_without_seed_outputs_vary(client: openai.OpenAI) -> None:
    texts = {
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=20).choices[0].message.content
        for _ in range(4)
    }
    assert len(texts) > 1


def test_stop_sequence_cuts_text(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=200, seed=5, stop=["."])
    content = resp.choices[0].message.content or ""
    assert "." not in content
    assert resp.choices[0].finish_reason == "stop"


def test_stream_helper_accumulates(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(
        model="gpt-4o", messages=MESSAGES, max_tokens=400, seed=3, stop=["."]
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "".join(deltas)
    assert final.choices[0].message.role == "assistant"


async def test_async_fifty_concurrent_streams(async_client: openai.AsyncOpenAI) -> None:
    async def one(i: int) -> tuple[str, int]:
        stream = await async_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            max_tokens=20,
            seed=i,
            stream=True,
            stream_options={"include_usage": True},
        )
        parts: list[str] = []
        usage = 0
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
            if chunk.usage is not None:
                usage = chunk.usage.completion_tokens
        return "".join(parts), usage

    results = await asyncio.gather(*(one(i) for i in range(50)))
    assert len(results) == 50
    for text, usage in results:
        assert text
        assert usage == get_tokenizer().count(text)


@pytest.mark.parametrize("model", ["gpt-4", "claude-sonnet-4-5-20250929", "gemini-2.5-flash"])
def test_catalogue_models_serve_chat(client: openai.OpenAI, model: str) -> None:
    resp = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=3)
    assert resp.model == model
