"""Azure OpenAI routes through ``openai.AzureOpenAI``: deployments, api-version, filter results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.live import LiveServer, live_server
from tests.providers.openai.helpers import assert_openai_error

API_VERSION = "2024-10-21"
MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "Hello there"}]


@pytest.fixture(scope="module")
def azure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Deployments: ``prod-chat`` (gpt-4o-mini), ``prod-instruct`` (an instruct model), ``vectors`` (embeddings)."""
    config: Path = tmp_path_factory.mktemp("azure") / "config.yaml"
    config.write_text(
        "models:\n  azure_deployments:\n    prod-chat: gpt-4o-mini\n"
        "    prod-instruct: gpt-3.5-turbo-instruct\n    vectors: text-embedding-3-small\n"
    )
    with live_server("--no-latency", "--config", str(config)) as live:
        yield live


@pytest.fixture
def azure(azure_server: LiveServer) -> Iterator[openai.AzureOpenAI]:
    """The official Azure client with strict validation."""
    with openai.AzureOpenAI(
        azure_endpoint=azure_server.url,
        api_key="azure-key",
        api_version=API_VERSION,
        max_retries=0,
        _strict_response_validation=True,
    ) as client:
        yield client


def test_chat_create_maps_the_deployment_and_adds_filter_results(azure: openai.AzureOpenAI) -> None:
    completion = azure.chat.completions.create(model="prod-chat", messages=MESSAGES, max_tokens=7, seed=3)
    assert completion.model == "gpt-4o-mini"
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.completion_tokens <= 7
    extra = completion.model_extra or {}
    prompt_filter = extra["prompt_filter_results"][0]
    assert prompt_filter["prompt_index"] == 0
    assert prompt_filter["content_filter_results"]["jailbreak"] == {"filtered": False, "detected": False}
    choice_extra = completion.choices[0].model_extra or {}
    assert choice_extra["content_filter_results"]["hate"] == {"filtered": False, "severity": "safe"}


def test_chat_stream_matches_the_non_stream_text(azure: openai.AzureOpenAI) -> None:
    whole = azure.chat.completions.create(model="prod-chat", messages=MESSAGES, max_tokens=9, seed=11)
    chunks = list(
        azure.chat.completions.create(model="prod-chat", messages=MESSAGES, max_tokens=9, seed=11, stream=True)
    )
    # Azure opens with a choice-less chunk carrying the prompt's filter results.
    assert chunks[0].choices == []
    assert "prompt_filter_results" in (chunks[0].model_extra or {})
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert all("content_filter_results" in (c.choices[0].model_extra or {}) for c in content_chunks)
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_stream_helper_assembles_the_message(azure: openai.AzureOpenAI) -> None:
    with azure.chat.completions.stream(model="prod-chat", messages=MESSAGES, seed=5) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content


def test_a_deployment_named_after_a_model_needs_no_mapping(azure: openai.AzureOpenAI) -> None:
    completion = azure.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=3)
    assert completion.model == "gpt-4o"


def test_legacy_completions_and_embeddings(azure_server: LiveServer) -> None:
    # Embeddings without strict validation: the SDK asks for base64 and decodes after validating.
    with openai.AzureOpenAI(
        azure_endpoint=azure_server.url, api_key="k", api_version=API_VERSION, max_retries=0
    ) as client:
        vector = client.embeddings.create(model="vectors", input="hello world").data[0].embedding
        assert len(vector) == 1536
        completion = client.completions.create(model="prod-instruct", prompt="Once", max_tokens=4)
        assert completion.choices[0].text


def test_unknown_deployment_is_a_404(azure: openai.AzureOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        azure.chat.completions.create(model="no-such-deployment", messages=MESSAGES)
    body = caught.value.body
    assert isinstance(body, dict) and body["code"] == "DeploymentNotFound"
    assert "no-such-deployment" in body["message"]


def test_missing_api_version_is_a_404_naming_it(azure_server: LiveServer) -> None:
    response = httpx.post(
        azure_server.url + "/openai/deployments/prod-chat/chat/completions",
        json={"messages": MESSAGES},
        headers={"api-key": "k"},
    )
    error = assert_openai_error(response, 404, param="api-version", code="404")
    assert "api-version" in error["message"]


def test_bad_body_on_an_azure_route_is_an_openai_shaped_400(azure_server: LiveServer) -> None:
    response = httpx.post(
        azure_server.url + f"/openai/deployments/prod-chat/chat/completions?api-version={API_VERSION}",
        json={"messages": []},
        headers={"api-key": "k"},
    )
    assert_openai_error(response, 400, param="messages", code="empty_array")


def test_unknown_deployment_target_in_config_is_refused_at_startup(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("models:\n  azure_deployments:\n    prod: no-such-model\n")
    with pytest.raises(RuntimeError, match=r"azure_deployments\.prod"), live_server("--config", str(config)):
        pass
