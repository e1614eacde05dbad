"""Bad input to every Ollama endpoint: Ollama's own ``{"error": "..."}`` body and status, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import ollama
import pytest

USER = [{"role": "user", "content": "hi"}]
LONG = "word " * 2000  # over all-minilm's 512-token context


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    message: str = body["error"]
    return message


@pytest.mark.parametrize(
    ("path", "body", "status", "expected"),
    [
        ("/api/chat", {"model": "nope", "messages": USER}, 404, "model 'nope' not found"),
        ("/api/generate", {"model": "gpt-4o", "prompt": "x"}, 404, "model 'gpt-4o' not found"),
        ("/api/embed", {"model": "nope", "input": "x"}, 404, "model 'nope' not found"),
        ("/api/show", {"model": "nope"}, 404, "model 'nope' not found"),
        # The legacy embeddings route keeps Ollama's older wording.
        ("/api/embeddings", {"model": "nope", "prompt": "x"}, 404, 'model "nope" not found, try pulling it first'),
        ("/api/chat", {"messages": USER}, 400, "model is required"),
        (
            "/api/chat",
            {"model": 7, "messages": USER},
            400,
            "cannot unmarshal number into Go struct field ChatRequest.model",
        ),
        ("/api/chat", {"model": "llama3.2", "messages": USER, "stream": "yes"}, 400, "ChatRequest.stream of type bool"),
        ("/api/chat", {"model": "llama3.2", "messages": "hi"}, 400, "ChatRequest.messages of type []api.Message"),
        ("/api/chat", {"model": "llama3.2", "messages": [{"content": "x"}]}, 400, "each message needs a role"),
        ("/api/chat", {"model": "llama3.2", "messages": [{"role": "user", "content": 3}]}, 400, "Message.content"),
        ("/api/chat", {"model": "llama3.2", "messages": USER, "options": []}, 400, "ChatRequest.options"),
        ("/api/chat", {"model": "llama3.2", "messages": USER, "options": {"temperature": "hot"}}, 400, "float"),
        ("/api/chat", {"model": "llama3.2", "messages": USER, "options": {"num_predict": 1.5}}, 400, "integer"),
        ("/api/chat", {"model": "llama3.2", "messages": USER, "options": {"stop": "x"}}, 400, "array of strings"),
        ("/api/chat", {"model": "llama3.2", "messages": USER, "options": {"num_ctx": 0}}, 400, "num_ctx"),
        ("/api/chat", {"model": "llama3.2", "messages": USER, "format": "yaml"}, 400, "invalid format"),
        ("/api/chat", {"model": "llama3.2", "messages": USER, "format": {"type": 5}}, 400, "invalid JSON schema"),
        ("/api/chat", {"model": "llama3.2", "messages": USER, "think": "max"}, 400, "invalid think value"),
        ("/api/chat", {"model": "llama3.2", "messages": USER, "keep_alive": "soon"}, 400, 'invalid duration "soon"'),
        (
            "/api/chat",
            {"model": "gemma3:4b", "messages": USER, "tools": [{}]},
            400,
            "registry.ollama.ai/library/gemma3:4b does not support tools",
        ),
        ("/api/chat", {"model": "llama3.2", "messages": USER, "tools": [{"type": "function"}]}, 400, "function"),
        ("/api/chat", {"model": "nomic-embed-text", "messages": USER}, 400, "does not support chat"),
        ("/api/generate", {"model": "llama3.2", "prompt": 1}, 400, "GenerateRequest.prompt of type string"),
        ("/api/generate", {"model": "llama3.2", "prompt": "x", "context": ["a"]}, 400, "GenerateRequest.context"),
        ("/api/generate", {"model": "all-minilm", "prompt": "x"}, 400, "does not support generate"),
        ("/api/embed", {"model": "llama3.2", "input": "x"}, 400, '"llama3.2" does not support embeddings'),
        ("/api/embed", {"model": "all-minilm", "input": 5}, 400, "invalid input type"),
        ("/api/embed", {"model": "all-minilm", "input": "x", "dimensions": 999}, 400, "dimensions must be between"),
        ("/api/embed", {"model": "all-minilm", "input": LONG, "truncate": False}, 400, "exceeds the context length"),
        ("/api/embeddings", {"model": "all-minilm", "prompt": 3}, 400, "EmbeddingRequest.prompt"),
    ],
)
def test_bad_bodies(http: httpx.Client, path: str, body: dict[str, Any], status: int, expected: str) -> None:
    assert expected in _error(http.post(path, json=body), status)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"", "missing request body"), (b"{", "invalid character"), (b"[1]", "cannot unmarshal array")],
)
def test_unparseable_bodies(http: httpx.Client, content: bytes, expected: str) -> None:
    assert expected in _error(http.post("/api/chat", content=content), 400)


def test_unknown_route_and_wrong_method_in_ollamas_shape(http: httpx.Client) -> None:
    _error(http.post("/api/pull", json={"model": "llama3.2"}), 404)
    assert _error(http.get("/api/chat"), 405)


def test_truncation_by_default_counts_at_most_the_context(http: httpx.Client) -> None:
    response = http.post("/api/embed", json={"model": "all-minilm", "input": LONG})
    assert response.status_code == 200
    assert response.json()["prompt_eval_count"] == 512


def test_the_client_raises_response_error_with_status(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as info:
        client.chat(model="nope", messages=USER)
    assert info.value.status_code == 404
    assert str(info.value) == "model 'nope' not found (status code: 404)"
