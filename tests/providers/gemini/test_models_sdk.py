"""models.list / models.get through google-genai, and the page walk on the wire."""

from __future__ import annotations

import httpx
import pytest
from google import genai
from google.genai import errors

from llm_simulator.engine.catalogue import BUILTIN_MODELS
from tests.providers.gemini.helpers import assert_google_error, assert_sdk_error

GEMINI_MODELS = {m.id: m for m in BUILTIN_MODELS if m.provider == "google"}


def test_list_returns_every_gemini_model_across_pages(genai_client: genai.Client) -> None:
    pager = genai_client.models.list(config={"page_size": 3})
    assert len(pager.page) == 3
    models = list(pager)
    names = [m.name for m in models]
    assert len(names) == len(set(names))
    assert {n.removeprefix("models/") for n in names if n} == set(GEMINI_MODELS)
    for model in models:
        assert model.name and model.name.startswith("models/")
        spec = GEMINI_MODELS[model.name.removeprefix("models/")]
        assert isinstance(model.input_token_limit, int) and model.input_token_limit == spec.context_window
        assert isinstance(model.output_token_limit, int) and model.output_token_limit == spec.max_output_tokens
        assert model.display_name
        assert model.supported_actions
        if spec.is_embedding:
            assert {"embedContent", "batchEmbedContents"} <= set(model.supported_actions)
            assert "generateContent" not in model.supported_actions
        else:
            # As the real API lists them: no streamGenerateContent, batchGenerateContent listed.
            assert model.supported_actions == ["generateContent", "countTokens", "batchGenerateContent"]
            assert "embedContent" not in model.supported_actions


def test_list_with_default_page_size(default_client: genai.Client) -> None:
    names = [m.name for m in default_client.models.list()]
    assert len(names) == len(GEMINI_MODELS)


def test_page_walk_on_the_wire(http: httpx.Client, api_version: str) -> None:
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params = {"pageSize": "4", **({"pageToken": token} if token else {})}
        resp = http.get(f"/{api_version}/models", params=params, headers={"x-goog-api-key": "k"})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        pages += 1
        assert set(body) <= {"models", "nextPageToken"}
        seen += [m["name"] for m in body["models"]]
        token = body.get("nextPageToken")
        if not token:
            assert "nextPageToken" not in body  # the last page has none, so pagers stop
            break
        assert len(body["models"]) == 4
        assert pages < 50
    assert pages == -(-len(GEMINI_MODELS) // 4)
    assert seen == [f"models/{m}" for m in GEMINI_MODELS]


@pytest.mark.parametrize("size", ["abc", "-1", "1.5", "²", "99999999999999999999"])
def test_bad_page_size(http: httpx.Client, size: str) -> None:
    assert_google_error(http.get("/v1beta/models", params={"pageSize": size}), 400, "INVALID_ARGUMENT")


def test_bad_page_token(http: httpx.Client) -> None:
    assert_google_error(http.get("/v1beta/models", params={"pageToken": "zzz"}), 400, "INVALID_ARGUMENT")


@pytest.mark.parametrize("name", ["gemini-2.5-flash", "models/gemini-2.5-flash"])
def test_get(genai_client: genai.Client, name: str) -> None:
    model = genai_client.models.get(model=name)
    assert model.name == "models/gemini-2.5-flash"
    assert model.display_name == "Gemini 2.5 Flash"
    assert model.input_token_limit == GEMINI_MODELS["gemini-2.5-flash"].context_window
    assert model.output_token_limit == GEMINI_MODELS["gemini-2.5-flash"].max_output_tokens
    assert model.supported_actions and "generateContent" in model.supported_actions
    assert model.thinking is True
    assert isinstance(model.temperature, float) and isinstance(model.top_k, int)


def test_get_alias_gives_its_target(default_client: genai.Client) -> None:
    assert default_client.models.get(model="gemini-flash-latest").name == "models/gemini-2.5-flash"


def test_get_embedding_model(default_client: genai.Client) -> None:
    model = default_client.models.get(model="gemini-embedding-001")
    assert model.name == "models/gemini-embedding-001"
    assert model.supported_actions and "embedContent" in model.supported_actions
    assert model.thinking is None


def test_get_unknown(genai_client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.get(model="gemini-9-ultra")
    assert_sdk_error(info.value, 404, "NOT_FOUND")


@pytest.mark.parametrize("model", ["gpt-4o", "claude-haiku-4-5"])
def test_get_another_vendors_model_is_not_found(genai_client: genai.Client, model: str) -> None:
    # The list shows Google's models only, so get does too.
    with pytest.raises(errors.ClientError) as info:
        genai_client.models.get(model=model)
    assert_sdk_error(info.value, 404, "NOT_FOUND")


def test_advertised_methods_are_all_served(http: httpx.Client) -> None:
    served = {"generateContent", "batchGenerateContent", "countTokens", "embedContent", "batchEmbedContents"}
    for model in http.get("/v1beta/models", params={"pageSize": 1000}).json()["models"]:
        assert set(model["supportedGenerationMethods"]) <= served, model
