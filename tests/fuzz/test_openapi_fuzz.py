"""Fuzz every route from /openapi.json (schemathesis): never a 5xx, always the provider's error shape.

The document is built from the same route table the server serves. Schemathesis generates
valid and invalid bodies, path segments and headers for each operation; the live server
(no latency) must answer each within the timeout, below 500, and every error must be JSON
in the shape of the provider that owns the route. Admin operations that change state are
left out (they would switch on chaos, which fails requests on purpose).

A second pass sends only requests the document calls valid and counts, per operation, the
answers that are not a 404: each operation must get at least one, so the fuzzer's requests
reach every handler's deep paths rather than stopping at an unknown model, a missing query
parameter or an unroutable path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from llm_simulator.config import load_config
from llm_simulator.server.app import SimulatorApp
from llm_simulator.server.openapi import build_openapi
from tests.live import LiveServer, live_server

DOCUMENT = build_openapi(SimulatorApp(load_config(flags={"latency.enabled": False})))
schema = schemathesis.openapi.from_dict(DOCUMENT).exclude(path_regex="^/admin", method=["POST", "PUT", "DELETE"])


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[LiveServer]:
    """A simulator without latency, so thousands of cases run in seconds."""
    with live_server("--no-latency") as live:
        yield live


OPENAI_PREFIXES = (
    "/v1/chat",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/responses",
    "/v1/conversations",
    "/v1/moderations",
    "/v1/images",
    "/v1/audio",
    "/openai/",
)


def owner(method: str, path: str) -> str | None:
    """The provider whose error shape a path must have (None: chosen by the request's headers)."""
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/api/"):
        return "ollama"
    if "/publishers/anthropic/" in path:
        return None  # Claude on Vertex: the model's 400s are Anthropic's, the platform's errors Google's
    if path.startswith("/model/"):
        return "bedrock"
    if path.startswith("/v1beta/"):
        return "gemini"
    # GET /v1/models/{model} is OpenAI's, Anthropic's or Gemini's by the headers, whatever the id.
    if ":" in path.rsplit("/", 1)[-1] and not (method == "GET" and path.startswith("/v1/models/")):
        return "gemini"
    if path.startswith(OPENAI_PREFIXES):
        return "openai"
    return None


def shape(body: Any) -> str:
    """Which provider's error shape ``body`` has; fails if it is none of them."""
    assert isinstance(body, dict), body
    if set(body) == {"message"}:  # Bedrock's (its exception's name rides in x-amzn-ErrorType)
        assert isinstance(body["message"], str) and body["message"], body
        return "bedrock"
    error = body["error"]
    if isinstance(error, str):
        assert set(body) == {"error"} and error, body
        return "ollama"
    if body.get("type") == "error":
        assert set(error) == {"type", "message"} and isinstance(body["request_id"], str), body
        return "anthropic"
    if "status" in error:
        assert isinstance(error["code"], int) and isinstance(error["message"], str), body
        return "gemini"
    assert set(error) == {"message", "type", "param", "code"}, error
    return "openai"


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_5xx_and_errors_in_the_providers_shape(case: schemathesis.Case[Any], fuzz_server: LiveServer) -> None:
    response = case.call(base_url=fuzz_server.url, timeout=15)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
    if response.status_code >= 400:
        expected = owner(case.method, case.formatted_path)
        got = shape(response.json())
        assert expected is None or got == expected, (case.method, case.formatted_path, got, response.text[:300])


# Valid requests per operation in the reach pass (the space of most GETs is a single request).
REACH_EXAMPLES = 4
# Operations that can only answer 404 to a fresh server, and why.
UNREACHABLE = {
    "GET /admin/sessions/{session}": "sessions exist only once a scripted scenario has run; the server loads none",
    "GET /admin/scopes/{scope}": "a test scope exists once a request or an admin write named it",
    "GET /admin/scope": "names its test scope by a query or header the document does not list; none exists yet",
    "POST /v1/batches": "a batch needs the id of a file uploaded with purpose batch; generated ids name none",
    "GET /v1/batches/{batch_id}": "batches exist only once one was created from an uploaded file",
    "POST /v1/batches/{batch_id}/cancel": "batches exist only once one was created from an uploaded file",
    "GET /v1/messages/batches/{message_batch_id}/results": "a message batch's results exist once it has ended",
    **{
        f"{op} /{version}/batches/{{batch_id}}{suffix}": "Gemini batches exist once created; their names hold a slash"
        for version in ("v1", "v1beta")
        for op, suffix in (("GET", ""), ("DELETE", ""), ("POST", ":cancel"))
        if (op, version) != ("GET", "v1")
    },
    "GET /v1/conversations/{conversation_id}/items/{item_id}": "an item needs both a conversation's id and its own",
    "DELETE /v1/conversations/{conversation_id}/items/{item_id}": "an item needs both a conversation's id and its own",
    "GET /v1/images/files/{image_id}": "images exist once generated; generation answers a URL, not an id to link",
}
OPERATIONS = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]


def _links() -> dict[str, tuple[str, str, str]]:
    """Linked operations: label → (label of the operation that creates the value, parameter, JSON pointer)."""
    labels = {op["operationId"]: f"{m.upper()} {p}" for p, item in DOCUMENT["paths"].items() for m, op in item.items()}
    linked = {}
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            for link in operation["responses"]["200"].get("links", {}).values():
                ((name, expression),) = link["parameters"].items()
                pointer = expression.removeprefix("$response.body#")
                linked[labels[link["operationId"]]] = (f"{method.upper()} {path}", name, pointer)
    return linked


LINKS = _links()


def _created(source: schemathesis.Case[Any], url: str, pointer: str) -> str | None:
    """Call ``source``; the value at ``pointer`` in its JSON answer (None if it made none)."""
    response = source.call(base_url=url, timeout=15)
    assert response.status_code < 500, (source.formatted_path, response.text[:300])
    if response.status_code != 200 or not response.text.startswith("{"):
        return None  # a refusal, or a stream (it holds the id, but not at the link's pointer)
    value: Any = response.json()
    for key in pointer.strip("/").split("/"):
        value = value[key]
    return str(value)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_valid_requests_reach_every_handler(operation: Any, fuzz_server: LiveServer) -> None:
    """Requests valid per the document get past routing and lookups: some answer per operation is not a 404."""
    if operation.label in UNREACHABLE:
        pytest.skip(UNREACHABLE[operation.label])
    statuses: Counter[int] = Counter()
    link = LINKS.get(operation.label)
    sources = {op.label: op for op in OPERATIONS}

    @given(case=operation.as_strategy(), data=st.data())
    @settings(
        max_examples=REACH_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
    )
    def call(case: schemathesis.Case[Any], data: st.DataObject) -> None:
        if link is not None:
            # A lookup needs what the linked operation creates (a stored response's id).
            source, name, pointer = link
            for _ in range(10):
                value = _created(data.draw(sources[source].as_strategy()), fuzz_server.url, pointer)
                if value is not None:
                    case.path_parameters = {**(case.path_parameters or {}), name: value}
                    break
        response = case.call(base_url=fuzz_server.url, timeout=15)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
        statuses[response.status_code] += 1

    call()
    assert sum(count for status, count in statuses.items() if status != 404), (operation.label, dict(statuses))


def test_the_document_is_valid_openapi_and_every_provider_has_operations() -> None:
    """Schemathesis accepts the document; Gemini's and Vertex's methods, Azure's and Ollama's routes are operations."""
    schemathesis.openapi.from_dict(DOCUMENT).validate()
    labels = {op.label for op in OPERATIONS}
    for method in ("generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents"):
        assert f"POST /v1beta/models/{{model}}:{method}" in labels
    for method in ("batchGenerateContent", "asyncBatchEmbedContent"):
        assert f"POST /v1beta/models/{{model}}:{method}" in labels
    assert {"POST /upload/v1beta/files", "GET /v1beta/files/{file_id}", "DELETE /v1/files/{file_id}"} <= labels
    assert "POST /openai/deployments/{deployment}/chat/completions" in labels
    vertex = "/projects/{project}/locations/{location}/publishers"
    for method in ("generateContent", "streamGenerateContent", "countTokens", "embedContent", "predict"):
        assert f"POST /v1beta1{vertex}/google/models/{{model}}:{method}" in labels
    for method in ("rawPredict", "streamRawPredict"):
        assert f"POST /v1{vertex}/anthropic/models/{{model}}:{method}" in labels
    assert f"POST /v1{vertex}/anthropic/models/count-tokens:rawPredict" in labels
    assert {"POST /api/chat", "POST /api/generate", "POST /api/embed", "GET /api/tags", "GET /api/ps"} <= labels
