"""Legacy completions (``POST /v1/completions``) through the official openai SDK."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from openai.types import Completion, CompletionChoice

from llm_simulator.engine.tokenizer import get_tokenizer
from tests.live import LiveServer

PROMPT = "The quick brown fox jumps over the lazy dog."


@pytest.fixture
def loose_client(server: LiveServer) -> Iterator[openai.OpenAI]:
    """A client without strict validation: the SDK types legacy ``finish_reason`` (and echo's
    leading ``null`` logprob) as non-nullable, which real-API-shaped responses violate."""
    with openai.OpenAI(base_url=server.openai_base, api_key="sk-test", max_retries=0) as c:
        yield c


def _check_logprobs(choice: CompletionChoice, k: int) -> None:
    """The parallel arrays are equally long and describe exactly the choice's text."""
    lp = choice.logprobs
    assert lp is not None
    assert lp.tokens is not None and lp.token_logprobs is not None
    assert lp.top_logprobs is not None and lp.text_offset is not None
    n = len(lp.tokens)
    assert n > 0
    assert len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == n
    assert "".join(lp.tokens) == choice.text
    offset = 0
    for token, offset_sent in zip(lp.tokens, lp.text_offset, strict=True):
        assert offset_sent == offset
        assert choice.text[offset : offset + len(token)] == token
        offset += len(token)
    # The SDK types these entries as non-null; echo's first prompt token is null on the wire.
    token_logprobs: list[float | None] = list(lp.token_logprobs)
    tops: list[dict[str, float] | None] = list(lp.top_logprobs)
    for token, logprob, top in zip(lp.tokens, token_logprobs, tops, strict=True):
        if logprob is None:  # the first echoed prompt token has no logprob (as in the real API)
            assert top is None
            continue
        assert logprob <= 0
        assert top is not None and len(top) <= k
        if k:
            # The sampled token is listed with its own logprob and is the most likely one.
            # (Echoed prompt tokens list only themselves, so "at most k".)
            assert top[token] == logprob
            assert max(top.values()) == logprob
        else:
            assert top == {}


def test_string_prompt(client: openai.OpenAI) -> None:
    resp = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT, max_tokens=20)
    assert resp.object == "text_completion"
    assert resp.id.startswith("cmpl-")
    assert resp.model == "gpt-3.5-turbo-instruct"
    assert len(resp.choices) == 1
    choice = resp.choices[0]
    assert choice.index == 0
    assert choice.text
    assert choice.logprobs is None
    assert choice.finish_reason in ("stop", "length")
    assert resp.usage is not None
    tok = get_tokenizer()
    assert resp.usage.prompt_tokens == tok.count(PROMPT)
    assert 0 < resp.usage.completion_tokens <= 20
    assert resp.usage.completion_tokens == tok.count(choice.text)
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens


def test_list_of_string_prompts(client: openai.OpenAI) -> None:
    prompts = ["First prompt here.", "A second, somewhat longer prompt here.", "Third."]
    resp = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=prompts, max_tokens=6, echo=True)
    assert [c.index for c in resp.choices] == [0, 1, 2]
    for prompt, choice in zip(prompts, resp.choices, strict=True):
        assert choice.text.startswith(prompt)
    assert resp.usage is not None
    tok = get_tokenizer()
    assert resp.usage.prompt_tokens == sum(tok.count(p) for p in prompts)
    generated = sum(tok.count(c.text[len(p) :]) for p, c in zip(prompts, resp.choices, strict=True))
    assert resp.usage.completion_tokens == generated


def test_token_id_prompt(client: openai.OpenAI) -> None:
    tok = get_tokenizer()
    ids = tok.encode(PROMPT)
    resp = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=ids, max_tokens=5, echo=True)
    assert len(resp.choices) == 1
    assert resp.choices[0].text.startswith(PROMPT)
    assert resp.usage is not None and resp.usage.prompt_tokens == len(ids)


def test_list_of_token_id_prompts(client: openai.OpenAI) -> None:
    tok = get_tokenizer()
    texts = ["Hello there, world.", "Completely different words"]
    ids = [tok.encode(t) for t in texts]
    resp = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=ids, max_tokens=5, echo=True)
    assert [c.index for c in resp.choices] == [0, 1]
    for text, choice in zip(texts, resp.choices, strict=True):
        assert choice.text.startswith(text)
    assert resp.usage is not None and resp.usage.prompt_tokens == sum(len(i) for i in ids)


def test_max_tokens_defaults_to_16(client: openai.OpenAI) -> None:
    resp = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT, extra_body={"ignore_eos": True})
    assert resp.usage is not None and resp.usage.completion_tokens == 16
    assert resp.choices[0].finish_reason == "length"
    assert get_tokenizer().count(resp.choices[0].text) == 16


def test_default_max_tokens_is_an_upper_bound(client: openai.OpenAI) -> None:
    for _ in range(5):
        resp = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT)
        assert resp.usage is not None and 0 < resp.usage.completion_tokens <= 16


def test_ignore_eos_honours_explicit_max_tokens(client: openai.OpenAI) -> None:
    resp = client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt=PROMPT, max_tokens=57, extra_body={"ignore_eos": True}
    )
    assert resp.usage is not None and resp.usage.completion_tokens == 57
    assert resp.choices[0].finish_reason == "length"


def test_n_choices_per_prompt(client: openai.OpenAI) -> None:
    prompts = ["Alpha prompt.", "Beta prompt."]
    resp = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=prompts, n=3, max_tokens=8, echo=True)
    assert [c.index for c in resp.choices] == list(range(6))
    for choice in resp.choices:
        # Choices are grouped by prompt: n for the first prompt, then n for the second.
        assert choice.text.startswith(prompts[choice.index // 3])
    generated = [c.text[len(prompts[c.index // 3]) :] for c in resp.choices]
    assert len(set(generated[:3])) > 1, "the n choices of one prompt should differ"
    tok = get_tokenizer()
    assert resp.usage is not None
    assert resp.usage.completion_tokens == sum(tok.count(g) for g in generated)


def test_echo_prepends_prompt(client: openai.OpenAI) -> None:
    plain = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT, max_tokens=10, seed=11)
    echoed = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT, max_tokens=10, seed=11, echo=True)
    assert echoed.choices[0].text == PROMPT + plain.choices[0].text
    # echo does not count the prompt as completion tokens
    assert plain.usage is not None and echoed.usage is not None
    assert echoed.usage.completion_tokens == plain.usage.completion_tokens
    assert echoed.usage.prompt_tokens == plain.usage.prompt_tokens


@pytest.mark.parametrize("k", [0, 1, 3, 5])
def test_logprobs_int(client: openai.OpenAI, k: int) -> None:
    resp = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT, max_tokens=12, logprobs=k, n=2)
    for choice in resp.choices:
        _check_logprobs(choice, k)
    tokens = sum(len(c.logprobs.tokens or []) for c in resp.choices if c.logprobs)
    assert resp.usage is not None and resp.usage.completion_tokens == tokens


def test_logprobs_with_echo_cover_prompt_and_completion(loose_client: openai.OpenAI) -> None:
    resp = loose_client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt=PROMPT, max_tokens=8, logprobs=2, echo=True
    )
    choice = resp.choices[0]
    assert choice.text.startswith(PROMPT)
    _check_logprobs(choice, 2)
    lp = choice.logprobs
    assert lp is not None and lp.tokens is not None and lp.token_logprobs is not None
    prompt_units = get_tokenizer().split(PROMPT)
    assert lp.tokens[: len(prompt_units)] == prompt_units
    token_logprobs: list[float | None] = list(lp.token_logprobs)
    assert token_logprobs[0] is None
    assert all(v is not None for v in token_logprobs[1:])
    assert resp.usage is not None
    assert len(lp.tokens) - len(prompt_units) == resp.usage.completion_tokens


@pytest.mark.parametrize("k", [-1, 6])
def test_logprobs_out_of_range(client: openai.OpenAI, k: int) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT, max_tokens=3, logprobs=k)
    assert info.value.param == "logprobs"


def test_stop_sequence_cuts_text(client: openai.OpenAI) -> None:
    resp = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT, max_tokens=300, seed=5, stop=["."])
    choice = resp.choices[0]
    assert choice.finish_reason == "stop"
    assert "." not in choice.text
    assert resp.usage is not None
    assert resp.usage.completion_tokens == get_tokenizer().count(choice.text) < 300


def test_stop_sequences_list(client: openai.OpenAI) -> None:
    for seed in range(3):
        resp = client.completions.create(
            model="gpt-3.5-turbo-instruct", prompt=PROMPT, max_tokens=300, seed=seed, stop=[".", ","], n=2
        )
        for choice in resp.choices:
            assert choice.finish_reason == "stop"
            assert "." not in choice.text and "," not in choice.text


def test_seed_is_reproducible(client: openai.OpenAI) -> None:
    a = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT, max_tokens=20, seed=42)
    b = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT, max_tokens=20, seed=42)
    c = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT, max_tokens=20, seed=43)
    assert a.choices[0].text == b.choices[0].text
    assert a.system_fingerprint == b.system_fingerprint
    assert a.choices[0].text != c.choices[0].text


def _collect(stream: openai.Stream[Completion]) -> list[Completion]:
    chunks = list(stream)
    assert chunks
    assert all(c.object == "text_completion" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert len({c.created for c in chunks}) == 1
    return chunks


def test_stream_matches_non_stream(loose_client: openai.OpenAI) -> None:
    kwargs = {"model": "gpt-3.5-turbo-instruct", "prompt": PROMPT, "max_tokens": 30, "seed": 77}
    full = loose_client.completions.create(**kwargs)  # type: ignore[call-overload]
    chunks = _collect(loose_client.completions.create(**kwargs, stream=True))  # type: ignore[call-overload]
    assert all(c.usage is None for c in chunks)
    assert all(len(c.choices) == 1 for c in chunks)
    text = "".join(c.choices[0].text for c in chunks)
    assert text == full.choices[0].text
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert chunks[-1].choices[0].finish_reason == full.choices[0].finish_reason


def test_stream_usage_equals_streamed_tokens(loose_client: openai.OpenAI) -> None:
    stream = loose_client.completions.create(
        model="gpt-3.5-turbo-instruct",
        prompt=PROMPT,
        max_tokens=25,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    )
    chunks = _collect(stream)
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert all(c.usage is None and c.choices for c in chunks[:-1])
    token_chunks = [c for c in chunks[:-1] if c.choices[0].text]
    assert last.usage.completion_tokens == len(token_chunks) == 25
    assert last.usage.prompt_tokens == get_tokenizer().count(PROMPT)
    assert last.usage.total_tokens == last.usage.prompt_tokens + 25


def test_stream_n_and_echo(loose_client: openai.OpenAI) -> None:
    stream = loose_client.completions.create(
        model="gpt-3.5-turbo-instruct",
        prompt=PROMPT,
        max_tokens=6,
        n=2,
        echo=True,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = _collect(stream)
    texts = ["", ""]
    finished = [0, 0]
    for chunk in chunks[:-1]:
        assert len(chunk.choices) == 1
        choice = chunk.choices[0]
        assert finished[choice.index] == 0, "no chunk after a choice's finish_reason"
        texts[choice.index] += choice.text
        if choice.finish_reason is not None:
            finished[choice.index] += 1
    assert finished == [1, 1]
    assert all(t.startswith(PROMPT) for t in texts)
    usage = chunks[-1].usage
    assert usage is not None
    tok = get_tokenizer()
    assert usage.completion_tokens == sum(tok.count(t[len(PROMPT) :]) for t in texts)


def test_stream_logprobs_offsets_follow_text(loose_client: openai.OpenAI) -> None:
    stream = loose_client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt=PROMPT, max_tokens=10, logprobs=2, echo=True, stream=True
    )
    text = ""
    for chunk in _collect(stream):
        choice = chunk.choices[0]
        if not choice.text:
            continue
        lp = choice.logprobs
        assert lp is not None and lp.tokens is not None and lp.text_offset is not None
        assert "".join(lp.tokens) == choice.text
        assert lp.text_offset[0] == len(text)
        text += choice.text
    assert text.startswith(PROMPT)


def test_embedding_model_is_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.completions.create(model="text-embedding-3-small", prompt=PROMPT)
    assert info.value.param == "model"
