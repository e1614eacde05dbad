"""``/api/generate``, ``/api/embed``, ``/api/embeddings`` and the model listings through the ``ollama`` client."""

from __future__ import annotations

import datetime
import math

import httpx
import ollama
import openai
import pytest

from tests.live import LiveServer


def test_generate_answers_and_streams_the_same_text(client: ollama.Client) -> None:
    options = {"num_predict": 16, "seed": 4}
    whole = client.generate(model="llama3.2", prompt="Once upon a time", system="Be brief.", options=options)
    assert whole.model == "llama3.2"
    assert whole.response and whole.done and whole.done_reason in ("stop", "length")
    assert whole.eval_count is not None and 0 < whole.eval_count <= 16
    parts = list(
        client.generate(model="llama3.2", prompt="Once upon a time", system="Be brief.", options=options, stream=True)
    )
    assert "".join(p.response or "" for p in parts) == whole.response
    assert parts[-1].done and parts[-1].eval_count == whole.eval_count
    # A system prompt and a suffix are part of the prompt.
    longer = client.generate(model="llama3.2", prompt="Once upon a time", system="Be brief.", suffix=" The end.")
    assert longer.prompt_eval_count and whole.prompt_eval_count
    assert longer.prompt_eval_count > whole.prompt_eval_count


def test_generate_thinking_on_a_thinking_model(client: ollama.Client) -> None:
    response = client.generate(model="deepseek-r1:8b", prompt="Why is the sky blue?", think=True)
    assert response.thinking and response.response


def test_empty_requests_load_and_unload_the_model(client: ollama.Client) -> None:
    loaded = client.generate(model="mistral")
    assert (loaded.done, loaded.done_reason, loaded.response) == (True, "load", "")
    assert "mistral:latest" in {m.model for m in client.ps().models}
    chat = client.chat(model="mistral", messages=[])
    assert (chat.done_reason, chat.message.content) == ("load", "")
    unloaded = client.generate(model="mistral", keep_alive=0)
    assert unloaded.done_reason == "unload"
    assert "mistral:latest" not in {m.model for m in client.ps().models}


def test_ps_lists_used_models_until_their_keep_alive(client: ollama.Client) -> None:
    before = datetime.datetime.now(datetime.UTC)
    client.chat(model="qwen2.5-coder:7b", messages=[{"role": "user", "content": "hi"}], keep_alive="10m")
    (entry,) = [m for m in client.ps().models if m.model == "qwen2.5-coder:7b"]
    assert entry.expires_at is not None
    assert datetime.timedelta(minutes=9) < entry.expires_at - before < datetime.timedelta(minutes=11)
    assert entry.details is not None and entry.details.family == "qwen2"
    assert entry.size_vram == entry.size and entry.context_length == 32_768


def test_embed_vectors(client: ollama.Client) -> None:
    response = client.embed(model="nomic-embed-text", input=["the cat sat", "a dog ran", "the cat sat"])
    assert response.model == "nomic-embed-text"
    assert len(response.embeddings) == 3
    first, second, third = response.embeddings
    assert len(first) == 768
    assert math.isclose(math.fsum(v * v for v in first), 1.0, rel_tol=1e-6)
    assert first == third and first != second  # same text, same vector
    assert response.prompt_eval_count and response.prompt_eval_count > 0
    assert response.total_duration is not None and response.total_duration > 0
    short = client.embed(model="mxbai-embed-large", input="the cat sat", dimensions=64)
    assert len(short.embeddings[0]) == 64
    assert client.embed(model="all-minilm", input="").embeddings == []


def test_legacy_embeddings(client: ollama.Client) -> None:
    vector = client.embeddings(model="nomic-embed-text", prompt="the cat sat").embedding
    assert list(vector) == client.embed(model="nomic-embed-text", input="the cat sat").embeddings[0]
    assert list(client.embeddings(model="nomic-embed-text", prompt="").embedding) == []


def test_list_show_and_version(client: ollama.Client, http: httpx.Client) -> None:
    models = {m.model: m for m in client.list().models}
    assert {"llama3.2:latest", "qwen3:8b", "nomic-embed-text:latest"} <= set(models)
    llama = models["llama3.2:latest"]
    assert llama.details is not None and llama.details.parameter_size == "3.2B"
    assert llama.digest and len(llama.digest) == 64 and llama.size and llama.size > 1_000_000_000
    shown = client.show("qwen3:8b")
    assert shown.capabilities == ["completion", "tools", "thinking"]
    assert shown.modelinfo and shown.modelinfo["qwen3.context_length"] == 40_960
    embedder = client.show("nomic-embed-text")
    assert embedder.capabilities == ["embedding"]
    assert embedder.modelinfo and embedder.modelinfo["nomic-bert.embedding_length"] == 768
    assert http.get("/api/version").json() == {"version": "0.13.0"}


def test_the_root_answers_ollama_is_running(http: httpx.Client) -> None:
    # Ollama's liveness probe (health checks and client set-up screens hit it).
    response = http.get("/")
    assert response.status_code == 200 and response.text == "Ollama is running"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_openai_compatible_routes_take_ollama_names_without_their_tag(server: LiveServer) -> None:
    # Ollama's own /v1 takes ``llama3.2`` for ``llama3.2:latest``; OpenAI SDK users send it so.
    with openai.OpenAI(base_url=server.url + "/v1", api_key="ollama", max_retries=0) as oai:
        completion = oai.chat.completions.create(
            model="llama3.2", messages=[{"role": "user", "content": "Hi"}], max_tokens=5
        )
        assert completion.model == "llama3.2" and completion.choices[0].message.content
        assert oai.embeddings.create(model="nomic-embed-text", input="hi").data[0].embedding
        with pytest.raises(openai.NotFoundError):  # another vendor's id gains no tag
            oai.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "Hi"}])
