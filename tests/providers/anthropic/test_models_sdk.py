"""``GET /v1/models`` and ``/v1/models/{id}`` in Anthropic's shape, and the shared-path routing."""

from __future__ import annotations

import datetime

import anthropic
import httpx
import pytest

from llm_simulator.engine.catalogue import BUILTIN_MODELS
from tests.live import LiveServer
from tests.providers.anthropic.helpers import ANTHROPIC_HEADERS, DATED_MODEL, MODEL, assert_anthropic_error


def test_list_auto_paginates_all_claude_models_newest_first(anthropic_client: anthropic.Anthropic) -> None:
    page = anthropic_client.models.list(limit=3)
    assert len(page.data) == 3
    assert page.has_more is True
    models = list(page)  # iterating a page fetches the following ones (after_id = last_id)
    ids = [m.id for m in models]
    assert len(set(ids)) == len(ids), "no duplicates across pages"
    assert set(ids) == {m.id for m in BUILTIN_MODELS if m.provider == "anthropic"}, "every Claude model"
    assert all(i.startswith("claude") for i in ids)
    assert DATED_MODEL in ids
    assert MODEL not in ids, "aliases are not listed"
    created = [m.created_at for m in models]
    assert created == sorted(created, reverse=True), "newest first"
    for model in models:
        assert model.type == "model"
        assert model.display_name
        assert model.created_at.tzinfo is not None
        assert model.created_at.utcoffset() == datetime.timedelta(0)


def test_list_one_page_equals_paginated(anthropic_client: anthropic.Anthropic) -> None:
    whole = anthropic_client.models.list(limit=1000)
    assert whole.has_more is False
    assert whole.first_id == whole.data[0].id and whole.last_id == whole.data[-1].id
    assert [m.id for m in whole.data] == [m.id for m in anthropic_client.models.list(limit=3)]


def test_list_default_page_size(anthropic_client: anthropic.Anthropic) -> None:
    page = anthropic_client.models.list()
    assert len(page.data) == 20
    assert page.has_more is True


async def test_list_async(async_anthropic_client: anthropic.AsyncAnthropic) -> None:
    ids = [m.id async for m in async_anthropic_client.models.list(limit=5)]
    assert len(ids) == len(set(ids)) > 5
    assert all(i.startswith("claude") for i in ids)


def test_list_before_id(anthropic_client: anthropic.Anthropic) -> None:
    ids = [m.id for m in anthropic_client.models.list(limit=1000).data]
    page = anthropic_client.models.list(limit=3, before_id=ids[5])
    assert [m.id for m in page.data] == ids[2:5]
    assert page.has_more is True
    first = anthropic_client.models.list(limit=3, before_id=ids[2])
    assert [m.id for m in first.data] == ids[:2]
    assert first.has_more is False


def test_retrieve_alias_answers_with_dated_id(anthropic_client: anthropic.Anthropic) -> None:
    model = anthropic_client.models.retrieve(MODEL)
    assert model.id == DATED_MODEL
    assert model.type == "model"
    listed = {m.id: m for m in anthropic_client.models.list(limit=1000).data}
    assert model == listed[DATED_MODEL]
    assert anthropic_client.models.retrieve(DATED_MODEL) == model


async def test_retrieve_async(async_anthropic_client: anthropic.AsyncAnthropic) -> None:
    model = await async_anthropic_client.models.retrieve(MODEL)
    assert model.id == DATED_MODEL


def test_retrieve_unknown_is_not_found(anthropic_client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as info:
        anthropic_client.models.retrieve("claude-nonexistent-9")
    body = info.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "not_found_error"


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "limit=abc", "limit=%C2%B2", "after_id=nope", "before_id=nope"]
)
def test_list_bad_query(http: httpx.Client, query: str) -> None:
    assert_anthropic_error(http.get("/v1/models?" + query), 400, "invalid_request_error")


def test_models_shape_depends_on_version_header(fast_server: LiveServer) -> None:
    anthropic_shape = httpx.get(fast_server.url + "/v1/models", headers=ANTHROPIC_HEADERS, timeout=10).json()
    assert set(anthropic_shape) == {"data", "has_more", "first_id", "last_id"}
    assert all(m["type"] == "model" and m["id"].startswith("claude") for m in anthropic_shape["data"])
    assert "request-id" in httpx.get(fast_server.url + "/v1/models", headers=ANTHROPIC_HEADERS).headers

    openai_shape = httpx.get(fast_server.url + "/v1/models", timeout=10).json()
    assert openai_shape["object"] == "list"
    assert all(m["object"] == "model" for m in openai_shape["data"])
    assert "gpt-4o" in {m["id"] for m in openai_shape["data"]}

    one = httpx.get(fast_server.url + "/v1/models/gpt-4o", timeout=10).json()
    assert one["object"] == "model" and one["id"] == "gpt-4o"
    claude = httpx.get(fast_server.url + f"/v1/models/{MODEL}", headers=ANTHROPIC_HEADERS, timeout=10).json()
    assert claude["type"] == "model" and claude["id"] == DATED_MODEL
