"""The Responses API on Azure OpenAI's routes: ``/openai/responses?api-version=…`` and ``/openai/v1/responses``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import openai
import pytest

from tests.live import LiveServer, live_server
from tests.providers.openai.helpers import assert_openai_error

API_VERSION = "2025-04-01-preview"
KEY = "sk-azure-responses-1"


@pytest.fixture(scope="module")
def azure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Deployment ``prod-chat`` serves gpt-4o-mini; API keys are enforced (Azure's ``api-key`` header)."""
    config: Path = tmp_path_factory.mktemp("azure-responses") / "config.yaml"
    config.write_text("models:\n  azure_deployments:\n    prod-chat: gpt-4o-mini\n")
    with live_server("--no-latency", "--config", str(config), "--require-auth", "--api-key", KEY) as live:
        yield live


@pytest.fixture
def recorded_paths() -> list[str]:
    """The URL paths (with query) the ``azure`` client sends."""
    return []


@pytest.fixture
def azure(azure_server: LiveServer, recorded_paths: list[str]) -> Iterator[openai.AzureOpenAI]:
    """``AzureOpenAI`` as its docs show it: endpoint, key (sent as ``api-key``), api-version."""

    def record(request: httpx2.Request) -> None:
        assert request.headers["api-key"] == KEY
        recorded_paths.append(f"{request.url.path}?{request.url.query.decode()}")

    with (
        httpx2.Client(event_hooks={"request": [record]}, timeout=30) as http,
        openai.AzureOpenAI(
            azure_endpoint=azure_server.url,
            api_key=KEY,
            api_version=API_VERSION,
            max_retries=0,
            http_client=http,
            _strict_response_validation=True,
        ) as client,
    ):
        yield client


@pytest.fixture
def v1(azure_server: LiveServer) -> Iterator[openai.OpenAI]:
    """The v1 API: the plain OpenAI client at ``…/openai/v1/`` (no api-version)."""
    with openai.OpenAI(
        base_url=azure_server.url + "/openai/v1/", api_key=KEY, max_retries=0, _strict_response_validation=True
    ) as client:
        yield client


def test_azure_client_creates_retrieves_lists_and_deletes(azure: openai.AzureOpenAI, recorded_paths: list[str]) -> None:
    response = azure.responses.create(model="prod-chat", input="Hello from Azure", max_output_tokens=200)
    assert response.model == "gpt-4o-mini" and response.status in ("completed", "incomplete") and response.output_text
    assert azure.responses.retrieve(response.id).id == response.id
    (item,) = azure.responses.input_items.list(response.id).data
    assert item.type == "message" and item.content[0].type == "input_text"
    follow = azure.responses.create(model="prod-chat", input="And more?", previous_response_id=response.id)
    assert follow.previous_response_id == response.id
    azure.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        azure.responses.retrieve(response.id)
    assert recorded_paths and all(p.startswith("/openai/responses") for p in recorded_paths)
    assert all(f"api-version={API_VERSION}" in p for p in recorded_paths)


def test_azure_client_streams(azure: openai.AzureOpenAI) -> None:
    with azure.responses.stream(model="prod-chat", input="Stream it") as stream:
        final = stream.get_final_response()
    assert final.status == "completed" and final.output_text and final.model == "gpt-4o-mini"


def test_a_deployment_client_uses_the_same_route(azure_server: LiveServer) -> None:
    with openai.AzureOpenAI(
        azure_endpoint=azure_server.url,
        azure_deployment="prod-chat",
        api_key=KEY,
        api_version=API_VERSION,
        max_retries=0,
        _strict_response_validation=True,
    ) as client:
        response = client.responses.create(model="prod-chat", input="Hi")
    assert response.model == "gpt-4o-mini"


def test_v1_route_serves_the_same_store(v1: openai.OpenAI, azure: openai.AzureOpenAI) -> None:
    response = v1.responses.create(model="prod-chat", input="Via v1", background=True)
    assert response.status == "queued"
    assert azure.responses.retrieve(response.id).id == response.id  # one store for every route
    assert [i.id for i in v1.responses.input_items.list(response.id).data]
    with v1.responses.stream(model="gpt-4o", input="A model named as the deployment") as stream:
        assert stream.get_final_response().model == "gpt-4o"


def test_api_version_is_required_on_the_unversioned_family(azure_server: LiveServer) -> None:
    got = httpx.post(
        azure_server.url + "/openai/responses", json={"model": "prod-chat", "input": "x"}, headers={"api-key": KEY}
    )
    assert_openai_error(got, 404, param="api-version", code="404")
    got = httpx.get(azure_server.url + "/openai/responses/resp_x/input_items", headers={"api-key": KEY})
    assert_openai_error(got, 404, param="api-version", code="404")


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"model": "no-such-deployment", "input": "x"}, 404, "DeploymentNotFound", None),
        ({"input": "x"}, 400, None, "model"),
        ({"model": "", "input": "x"}, 400, None, "model"),
        ({"model": "prod-chat"}, 400, None, "input"),
    ],
)
def test_bad_input_on_both_families(
    azure_server: LiveServer, body: dict[str, object], status: int, code: str | None, param: str | None
) -> None:
    for path in (f"/openai/responses?api-version={API_VERSION}", "/openai/v1/responses"):
        got = httpx.post(azure_server.url + path, json=body, headers={"api-key": KEY})
        assert_openai_error(got, status, code=code, param=param)


def test_the_api_key_header_is_checked(azure_server: LiveServer) -> None:
    body = {"model": "prod-chat", "input": "x"}
    for path in (f"/openai/responses?api-version={API_VERSION}", "/openai/v1/responses"):
        assert httpx.post(azure_server.url + path, json=body, headers={"api-key": KEY}).status_code == 200
        refused = httpx.post(azure_server.url + path, json=body, headers={"api-key": "sk-wrong-key-0"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
        assert httpx.post(azure_server.url + path, json=body).status_code == 401


def test_the_v1_api_serves_chat_completions_and_embeddings(v1: openai.OpenAI) -> None:
    # Microsoft's v1 API: the plain OpenAI client at .../openai/v1/, the deployment as ``model``.
    completion = v1.chat.completions.create(
        model="prod-chat", messages=[{"role": "user", "content": "Hi"}], max_tokens=5
    )
    assert completion.model == "gpt-4o-mini" and completion.choices[0].message.content
    assert "prompt_filter_results" in (completion.model_extra or {})  # Azure's annotations
    chunks = list(
        v1.chat.completions.create(
            model="prod-chat", messages=[{"role": "user", "content": "Hi"}], max_tokens=5, stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    vectors = v1.embeddings.create(model="text-embedding-3-small", input=["a", "b"], encoding_format="float")
    assert len(vectors.data) == 2 and vectors.data[0].embedding
    with pytest.raises(openai.NotFoundError) as caught:
        v1.chat.completions.create(model="no-such-deployment", messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.code == "DeploymentNotFound"
