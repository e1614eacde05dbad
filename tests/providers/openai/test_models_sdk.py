"""``GET /v1/models`` and ``GET /v1/models/{id}`` through the official openai SDK."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.live import LiveServer


def test_list_contains_chat_and_embedding_models(client: openai.OpenAI) -> None:
    page = client.models.list()
    models = {m.id: m for m in page}
    assert "gpt-4o" in models
    assert "text-embedding-3-small" in models
    for model in models.values():
        assert model.object == "model"
        assert isinstance(model.created, int) and model.created > 0
        assert model.owned_by
    assert len(models) == len(page.data), "model ids must be unique"


def test_list_is_stable(client: openai.OpenAI) -> None:
    first = [m.model_dump() for m in client.models.list()]
    second = [m.model_dump() for m in client.models.list()]
    assert first == second


@pytest.mark.parametrize("model_id", ["gpt-4o", "gpt-4", "text-embedding-3-small"])
def test_retrieve(client: openai.OpenAI, model_id: str) -> None:
    model = client.models.retrieve(model_id)
    assert model.id == model_id
    assert model.object == "model"
    listed = {m.id: m for m in client.models.list()}
    assert model == listed[model_id]


def test_retrieve_unknown_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("no-such-model-xyz")
    err = info.value
    assert err.status_code == 404
    assert err.code == "model_not_found"
    assert err.type == "invalid_request_error"
    assert "no-such-model-xyz" in err.message


def test_retrieve_unknown_raw_body(server: LiveServer) -> None:
    resp = httpx.get(server.openai_base + "/models/no-such-model", timeout=10)
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/json")
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "model_not_found"


def test_unknown_model_on_chat_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert info.value.code == "model_not_found"
    assert info.value.param == "model"
