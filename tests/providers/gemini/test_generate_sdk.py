"""generateContent, streamGenerateContent and countTokens through google-genai on a real socket."""

from __future__ import annotations

from google import genai
from google.genai import types

from llm_simulator.engine.tokenizer import get_tokenizer
from tests.providers.gemini.helpers import CHAT_MODEL

PROMPT = "Tell me something."
TEXT = types.MediaModality.TEXT


def _config(**kwargs: object) -> types.GenerateContentConfig:
    return types.GenerateContentConfig.model_validate(kwargs)


def test_generate_content(genai_client: genai.Client) -> None:
    resp = genai_client.models.generate_content(
        model=CHAT_MODEL, contents=PROMPT, config=_config(seed=5, max_output_tokens=4000)
    )
    assert resp.candidates is not None and len(resp.candidates) == 1
    candidate = resp.candidates[0]
    assert candidate.index == 0
    assert candidate.content is not None and candidate.content.role == "model"
    assert resp.text
    # The natural length (mean 120 tokens) stays far below the cap.
    assert candidate.finish_reason == types.FinishReason.STOP
    usage = resp.usage_metadata
    assert usage is not None
    tok = get_tokenizer()
    assert usage.prompt_token_count == tok.count(PROMPT)
    assert usage.candidates_token_count == tok.count(resp.text)
    assert 0 < usage.candidates_token_count < 4000
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    assert usage.prompt_tokens_details == [
        types.ModalityTokenCount(modality=TEXT, token_count=usage.prompt_token_count)
    ]
    assert usage.thoughts_token_count is None
    assert resp.model_version == CHAT_MODEL
    assert resp.response_id


def test_response_ids_differ(genai_client: genai.Client) -> None:
    config = _config(seed=5, max_output_tokens=3)
    first = genai_client.models.generate_content(model=CHAT_MODEL, contents=PROMPT, config=config)
    second = genai_client.models.generate_content(model=CHAT_MODEL, contents=PROMPT, config=config)
    assert first.text == second.text
    assert first.response_id and second.response_id and first.response_id != second.response_id


def test_alias_reports_the_model_it_resolves_to(default_client: genai.Client) -> None:
    resp = default_client.models.generate_content(
        model="gemini-flash-latest", contents=PROMPT, config=_config(max_output_tokens=2)
    )
    assert resp.model_version == "gemini-2.5-flash"


def test_full_model_name_is_accepted(default_client: genai.Client) -> None:
    resp = default_client.models.generate_content(
        model="models/gemini-2.0-flash", contents=PROMPT, config=_config(max_output_tokens=2)
    )
    assert resp.model_version == "gemini-2.0-flash"


def test_max_output_tokens_reached(genai_client: genai.Client) -> None:
    for seed in (1, 2, 3):
        resp = genai_client.models.generate_content(
            model=CHAT_MODEL, contents=PROMPT, config=_config(seed=seed, max_output_tokens=5)
        )
        assert resp.candidates is not None
        assert resp.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
        assert resp.usage_metadata is not None
        assert resp.usage_metadata.candidates_token_count == 5
        assert get_tokenizer().count(resp.text or "") == 5


def test_stop_sequence_ends_text_before_it(genai_client: genai.Client) -> None:
    # The request seed covers the stop sequences too, so the text with a stop is not a
    # prefix of the text without; "." ends every sentence, so it occurs in any seeded text.
    base = genai_client.models.generate_content(
        model=CHAT_MODEL, contents=PROMPT, config=_config(seed=11, max_output_tokens=4000)
    )
    assert base.text and "." in base.text
    config = _config(seed=11, max_output_tokens=4000, stop_sequences=["."])
    resp = genai_client.models.generate_content(model=CHAT_MODEL, contents=PROMPT, config=config)
    assert resp.candidates is not None
    assert resp.candidates[0].finish_reason == types.FinishReason.STOP
    text = resp.text
    assert text and "." not in text
    assert "\n" not in text  # cut inside the first sentence, before any paragraph break
    assert resp.usage_metadata is not None
    assert resp.usage_metadata.candidates_token_count == get_tokenizer().count(text)
    again = genai_client.models.generate_content(model=CHAT_MODEL, contents=PROMPT, config=config)
    assert again.text == text


def test_stop_sequence_cuts_exactly(echo_client: genai.Client) -> None:
    # The echo strategy writes the prompt back, so the cut point is known exactly.
    prompt = "alpha beta STOPHERE gamma delta"
    resp = echo_client.models.generate_content(
        model=CHAT_MODEL, contents=prompt, config=_config(stop_sequences=["nothing", "STOPHERE"])
    )
    assert resp.text == "alpha beta "
    assert resp.candidates is not None
    assert resp.candidates[0].finish_reason == types.FinishReason.STOP
    assert resp.usage_metadata is not None
    assert resp.usage_metadata.candidates_token_count == get_tokenizer().count("alpha beta ")


def test_two_candidates(genai_client: genai.Client) -> None:
    resp = genai_client.models.generate_content(
        model=CHAT_MODEL, contents=PROMPT, config=_config(seed=9, candidate_count=2, max_output_tokens=30)
    )
    assert resp.candidates is not None
    assert [c.index for c in resp.candidates] == [0, 1]
    tok = get_tokenizer()
    total = 0
    for candidate in resp.candidates:
        assert candidate.finish_reason in (types.FinishReason.STOP, types.FinishReason.MAX_TOKENS)
        assert candidate.content is not None and candidate.content.parts
        text = "".join(p.text or "" for p in candidate.content.parts)
        assert text
        total += tok.count(text)
    assert resp.usage_metadata is not None
    assert resp.usage_metadata.candidates_token_count == total


def _text(candidate: types.Candidate) -> str:
    assert candidate.content is not None
    return "".join(p.text or "" for p in candidate.content.parts or [])


def _candidate_texts(chunks: list[types.GenerateContentResponse], count: int) -> list[str]:
    texts = [""] * count
    for chunk in chunks:
        for candidate in chunk.candidates or []:
            assert candidate.index is not None
            texts[candidate.index] += _text(candidate)
    return texts


def test_stream_matches_non_stream(genai_client: genai.Client) -> None:
    config = _config(seed=21, max_output_tokens=60)
    full = genai_client.models.generate_content(model=CHAT_MODEL, contents=PROMPT, config=config)
    chunks = list(genai_client.models.generate_content_stream(model=CHAT_MODEL, contents=PROMPT, config=config))
    assert len(chunks) > 1
    assert "".join(c.text or "" for c in chunks) == full.text
    assert full.usage_metadata is not None and full.candidates is not None
    for chunk in chunks[:-1]:
        assert chunk.candidates is not None and len(chunk.candidates) == 1
        assert chunk.candidates[0].finish_reason is None
        assert chunk.usage_metadata is not None
        assert chunk.usage_metadata.prompt_token_count == full.usage_metadata.prompt_token_count
        assert chunk.usage_metadata.candidates_token_count is None
    last = chunks[-1]
    assert last.candidates is not None
    assert last.candidates[0].finish_reason == full.candidates[0].finish_reason
    assert last.usage_metadata is not None
    assert last.usage_metadata.prompt_token_count == full.usage_metadata.prompt_token_count
    assert last.usage_metadata.candidates_token_count == full.usage_metadata.candidates_token_count
    assert last.usage_metadata.total_token_count == full.usage_metadata.total_token_count
    assert {c.model_version for c in chunks} == {CHAT_MODEL}
    ids = {c.response_id for c in chunks}
    assert len(ids) == 1 and None not in ids and "" not in ids


def test_stream_two_candidates(genai_client: genai.Client) -> None:
    config = _config(seed=4, candidate_count=2, max_output_tokens=20)
    full = genai_client.models.generate_content(model=CHAT_MODEL, contents=PROMPT, config=config)
    chunks = list(genai_client.models.generate_content_stream(model=CHAT_MODEL, contents=PROMPT, config=config))
    assert full.candidates is not None
    assert _candidate_texts(chunks, 2) == [_text(c) for c in full.candidates]
    for index in (0, 1):
        finishes = [
            c.candidates[0].finish_reason
            for c in chunks
            if c.candidates and c.candidates[0].index == index and c.candidates[0].finish_reason is not None
        ]
        assert finishes == [full.candidates[index].finish_reason]
    assert chunks[-1].usage_metadata is not None and full.usage_metadata is not None
    assert chunks[-1].usage_metadata.candidates_token_count == full.usage_metadata.candidates_token_count
    assert all(c.usage_metadata and c.usage_metadata.candidates_token_count is None for c in chunks[:-1])


def test_system_instruction_counts_as_prompt(genai_client: genai.Client) -> None:
    system = "You are a terse assistant who answers in one word."
    plain = genai_client.models.generate_content(model=CHAT_MODEL, contents=PROMPT, config=_config(max_output_tokens=1))
    with_system = genai_client.models.generate_content(
        model=CHAT_MODEL, contents=PROMPT, config=_config(max_output_tokens=1, system_instruction=system)
    )
    assert plain.usage_metadata is not None and with_system.usage_metadata is not None
    assert plain.usage_metadata.prompt_token_count is not None
    assert with_system.usage_metadata.prompt_token_count == (
        plain.usage_metadata.prompt_token_count + get_tokenizer().count(system)
    )


CONVERSATION = [
    types.Content(role="user", parts=[types.Part(text="What is in this picture?")]),
    types.Content(role="model", parts=[types.Part(text="A cat on a mat.")]),
    types.Content(
        role="user",
        parts=[
            types.Part(text="And this one?"),
            types.Part(inline_data=types.Blob(data=b"\x89PNG\r\n\x1a\nfake", mime_type="image/png")),
        ],
    ),
]


def test_count_tokens_equals_prompt_token_count(genai_client: genai.Client) -> None:
    counted = genai_client.models.count_tokens(model=CHAT_MODEL, contents=CONVERSATION)
    resp = genai_client.models.generate_content(
        model=CHAT_MODEL, contents=CONVERSATION, config=_config(max_output_tokens=1)
    )
    assert resp.usage_metadata is not None
    assert counted.total_tokens == resp.usage_metadata.prompt_token_count
    tok = get_tokenizer()
    texts = ("What is in this picture?", "A cat on a mat.", "And this one?")
    assert counted.total_tokens is not None and counted.total_tokens > sum(tok.count(t) for t in texts)


def test_count_tokens_of_a_string(genai_client: genai.Client) -> None:
    counted = genai_client.models.count_tokens(model=CHAT_MODEL, contents=PROMPT)
    assert counted.total_tokens == get_tokenizer().count(PROMPT)


async def test_async_generate_content(async_genai_client: genai.client.AsyncClient) -> None:
    config = _config(seed=13, max_output_tokens=40)
    resp = await async_genai_client.models.generate_content(model=CHAT_MODEL, contents=PROMPT, config=config)
    assert resp.text
    assert resp.usage_metadata is not None
    assert resp.usage_metadata.candidates_token_count == get_tokenizer().count(resp.text)
    stream = await async_genai_client.models.generate_content_stream(model=CHAT_MODEL, contents=PROMPT, config=config)
    chunks = [chunk async for chunk in stream]
    assert len(chunks) > 1
    assert "".join(c.text or "" for c in chunks) == resp.text
    assert chunks[-1].candidates is not None and resp.candidates is not None
    assert chunks[-1].candidates[0].finish_reason == resp.candidates[0].finish_reason
    assert all(c.candidates and c.candidates[0].finish_reason is None for c in chunks[:-1])
    assert chunks[-1].usage_metadata is not None
    assert chunks[-1].usage_metadata.candidates_token_count == resp.usage_metadata.candidates_token_count


async def test_async_count_tokens_and_embed(async_genai_client: genai.client.AsyncClient) -> None:
    counted = await async_genai_client.models.count_tokens(model=CHAT_MODEL, contents=PROMPT)
    assert counted.total_tokens == get_tokenizer().count(PROMPT)
    embedded = await async_genai_client.models.embed_content(model="text-embedding-004", contents=["a", "b"])
    assert embedded.embeddings is not None and len(embedded.embeddings) == 2
