"""`/openapi.json` states what the server accepts: the configured models, required parameters, bounds."""

from __future__ import annotations

from typing import Any

import schemathesis

from llm_simulator.config import load_config
from llm_simulator.server.app import SimulatorApp
from llm_simulator.server.openapi import build_openapi


def document(**flags: Any) -> dict[str, Any]:
    return build_openapi(SimulatorApp(load_config(flags={"latency.enabled": False, **flags})))


def body(doc: dict[str, Any], path: str) -> dict[str, Any]:
    schema: dict[str, Any] = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return schema


def branch(schema: dict[str, Any], model: str) -> dict[str, Any]:
    """The ``anyOf`` branch whose model enum lists ``model``."""
    branches = schema.get("anyOf") or schema["allOf"][0]["anyOf"]
    (found,) = [b for b in branches if model in b["properties"]["model"].get("enum", [])]
    return dict(found["properties"])


def test_the_document_is_valid_openapi() -> None:
    schemathesis.openapi.from_dict(document()).validate()


def test_gemini_methods_are_operations_with_the_models_that_serve_them() -> None:
    doc = document()
    generate = doc["paths"]["/v1beta/models/{model}:generateContent"]["post"]
    (model,) = [p for p in generate["parameters"] if p["name"] == "model"]
    assert "gemini-2.5-flash" in model["schema"]["enum"]
    assert "text-embedding-004" not in model["schema"]["enum"]
    embed = doc["paths"]["/v1/models/{model}:batchEmbedContents"]["post"]
    assert embed["parameters"][0]["schema"]["enum"] == ["text-embedding-004", "gemini-embedding-001"]
    assert "{target}" not in str(doc["paths"])
    assert body(doc, "/v1beta/models/{model}:generateContent")["properties"]["contents"]["minItems"] == 1


def test_azure_routes_require_api_version_and_list_the_configured_deployments() -> None:
    doc = document(**{"models.azure_deployments": {"prod-chat": "gpt-4o-mini"}})
    operation = doc["paths"]["/openai/deployments/{deployment}/chat/completions"]["post"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["api-version"]["in"] == "query" and params["api-version"]["required"] is True
    deployments = params["deployment"]["schema"]["enum"]
    assert deployments[0] == "prod-chat" and "gpt-4.1" in deployments and "text-embedding-3-small" not in deployments
    embeddings = doc["paths"]["/openai/deployments/{deployment}/embeddings"]["post"]["parameters"][0]
    assert "text-embedding-3-small" in embeddings["schema"]["enum"] and "prod-chat" not in embeddings["schema"]["enum"]


def test_model_enums_follow_the_configured_catalogue() -> None:
    added = {"id": "house-model", "provider": "anthropic", "max_output_tokens": 300}
    doc = document(**{"models.add": [added], "models.aliases": {"house": "house-model"}})
    messages = body(doc, "/v1/messages")
    assert {"house-model", "house"} <= set(messages["properties"]["model"]["enum"])
    assert branch(messages, "house")["max_tokens"]["maximum"] == 300
    free = body(document(**{"models.accept_unknown": True}), "/v1/chat/completions")["properties"]["model"]
    assert free["type"] == "string" and "enum" not in free


def test_conversations_must_be_non_empty_and_token_limits_are_the_models() -> None:
    doc = document()
    chat = body(doc, "/v1/chat/completions")
    assert chat["properties"]["messages"]["minItems"] == 1
    assert branch(chat, "gpt-4o")["max_tokens"] == {"type": "integer", "minimum": 1, "maximum": 16_384}
    # OpenAI's reasoning models refuse max_tokens and non-default sampling settings.
    assert branch(chat, "gpt-5")["max_tokens"] == {"not": {}}
    assert branch(chat, "gpt-5")["max_completion_tokens"]["maximum"] == 128_000
    messages = body(doc, "/v1/messages")
    assert messages["properties"]["messages"]["minItems"] == 1
    assert branch(messages, "claude-3-haiku-20240307")["max_tokens"]["maximum"] == 4_096
    assert branch(messages, "claude-sonnet-4-5")["max_tokens"]["maximum"] == 64_000
    assert body(doc, "/v1/responses")["properties"]["input"]["anyOf"][1]["minItems"] == 1
    embedding_input = body(doc, "/v1/embeddings")["properties"]["input"]["anyOf"]
    assert embedding_input[0]["minLength"] == 1 and embedding_input[1]["minItems"] == 1


def test_stored_responses_are_linked_from_the_operation_that_creates_them() -> None:
    links = document()["paths"]["/v1/responses"]["post"]["responses"]["200"]["links"]
    assert {link["parameters"]["response_id"] for link in links.values()} == {"$response.body#/id"}
    assert len(links) == 4  # retrieve, delete, cancel, input_items


def test_input_items_and_the_azure_responses_routes_are_documented() -> None:
    paths = document()["paths"]
    items = paths["/v1/responses/{response_id}/input_items"]["get"]
    assert [p["name"] for p in items["parameters"]] == ["response_id", "after", "limit", "order", "include"]
    for family, versioned in (("/openai/responses", True), ("/openai/v1/responses", False)):
        create = paths[family]["post"]
        assert ("api-version" in [p["name"] for p in create["parameters"]]) is versioned
        assert len(create["responses"]["200"]["links"]) == 4
        assert set(paths[family + "/{response_id}"]) == {"get", "delete"}
        assert "requestBody" not in paths[family + "/{response_id}/cancel"]["post"]
        listed = [p["name"] for p in paths[family + "/{response_id}/input_items"]["get"]["parameters"]]
        assert listed[:5] == ["response_id", "after", "limit", "order", "include"]


def test_background_responses_can_be_cancelled_and_streamed_again() -> None:
    paths = document()["paths"]
    cancel = paths["/v1/responses/{response_id}/cancel"]["post"]
    assert "requestBody" not in cancel and [p["name"] for p in cancel["parameters"]] == ["response_id"]
    retrieve = paths["/v1/responses/{response_id}"]["get"]
    assert [p["name"] for p in retrieve["parameters"]] == ["response_id", "stream", "starting_after"]


def test_the_conversations_api_is_documented() -> None:
    paths = document()["paths"]
    assert set(paths["/v1/conversations/{conversation_id}"]) == {"get", "post", "delete"}
    assert set(paths["/v1/conversations/{conversation_id}/items"]) == {"get", "post"}
    assert set(paths["/v1/conversations/{conversation_id}/items/{item_id}"]) == {"get", "delete"}
    items = body(document(), "/v1/conversations/{conversation_id}/items")
    assert items["required"] == ["items"] and items["properties"]["items"]["maxItems"] == 20
    listing = paths["/v1/conversations/{conversation_id}/items"]["get"]["parameters"]
    assert [p["name"] for p in listing] == ["conversation_id", "after", "limit", "order"]
    links = paths["/v1/conversations"]["post"]["responses"]["200"]["links"]
    assert len(links) == 5
