"""``GET /openapi.json``: an OpenAPI 3.1 document of every route the simulator serves.

Built from the route table and the configured model catalogue at start-up, so it never
drifts from what is served: the model enums are the catalogue's ids and aliases (with
``models.accept_unknown``, any id), Azure's deployments are the configured ones plus every
model name, and the bounds are the providers' own (see ``openapi_bodies``). Gemini's one
route ``/{version}/models/{target}`` (the method rides in the last path segment, as in
``models/gemini-2.5-flash:generateContent``) is described as one operation per method, each
with its own body and the models that method serves; so is the Bedrock runtime's
``/model/{target:path}`` (``openapi_bedrock.py``). Paths shared by several providers
(``GET /v1/models``) appear once, with the headers that select each provider documented as
optional parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from llm_simulator._version import __version__
from llm_simulator.engine.catalogue import Catalogue, ModelSpec
from llm_simulator.providers.gemini import BATCH_ACTIONS, EMBED_ACTIONS, GENERATE_ACTIONS
from llm_simulator.providers.openai.azure import API_VERSION
from llm_simulator.providers.openai.responses_input import INCLUDABLE
from llm_simulator.server import openapi_bedrock
from llm_simulator.server import openapi_bodies as bodies
from llm_simulator.server.openapi_bodies import Models, Schema, is_generation, models
from llm_simulator.server.openapi_doors import describe

if TYPE_CHECKING:
    from llm_simulator.config.schema import SimulatorConfig
    from llm_simulator.core.http import Route
    from llm_simulator.engine.simulator import Simulator
    from llm_simulator.providers.base import Provider


class Served(Protocol):
    """What the document describes: the configuration, the catalogue and every route."""

    config: SimulatorConfig
    sim: Simulator
    route_table: list[tuple[Route, Provider]]


_PARAM = re.compile(r"\{(\w+)(?::path)?\}")
_GEMINI_TARGET = "{target}"
_AZURE_DEPLOYMENT = "{deployment}"
_GEMINI_BATCH_ACTION = "{batch_action}"
# One path segment: a model id as a path parameter may not hold a slash.
_SEGMENT = r"^[^/]+$"

_ANY_OBJECT: Schema = {"type": "object"}
_SELECTORS = [
    {"name": "anthropic-version", "in": "header", "required": False, "schema": {"type": "string"}},
    {"name": "x-goog-api-key", "in": "header", "required": False, "schema": {"type": "string"}},
]
_API_VERSION_PARAM = {
    "name": API_VERSION,
    "in": "query",
    "required": True,
    "description": "Required, as on Azure (without it: 404). Any non-empty version is served alike.",
    "schema": {"type": "string", "minLength": 1},
    "example": "2024-10-21",
}
_ALT_PARAM = {
    "name": "alt",
    "in": "query",
    "required": False,
    "description": "sse: server-sent events; without it, one JSON array streamed element by element.",
    "schema": {"enum": ["sse"]},
}
# Operations whose path parameter names something another operation creates: (source method,
# source path) → [(method, path, parameter, where the source's answer holds its value)].
# The Responses API's three route families: OpenAI's, Azure's versioned one and Azure's v1.
_RESPONSES_FAMILIES = ("/v1/responses", "/openai/responses", "/openai/v1/responses")
_RESPONSE_LOOKUPS = (
    ("get", "/{response_id}"),
    ("delete", "/{response_id}"),
    ("post", "/{response_id}/cancel"),
    ("get", "/{response_id}/input_items"),
)
_LINKS = {
    **{
        ("post", family): [(m, family + suffix, "response_id", "$response.body#/id") for m, suffix in _RESPONSE_LOOKUPS]
        for family in _RESPONSES_FAMILIES
    },
    ("post", "/v1/conversations"): [
        ("get", "/v1/conversations/{conversation_id}", "conversation_id", "$response.body#/id"),
        ("post", "/v1/conversations/{conversation_id}", "conversation_id", "$response.body#/id"),
        ("delete", "/v1/conversations/{conversation_id}", "conversation_id", "$response.body#/id"),
        ("get", "/v1/conversations/{conversation_id}/items", "conversation_id", "$response.body#/id"),
        ("post", "/v1/conversations/{conversation_id}/items", "conversation_id", "$response.body#/id"),
    ],
    ("post", "/v1/files"): [
        ("get", "/v1/files/{file_id}", "file_id", "$response.body#/id"),
        ("get", "/v1/files/{file_id}/content", "file_id", "$response.body#/id"),
        ("delete", "/v1/files/{file_id}", "file_id", "$response.body#/id"),
    ],
    ("post", "/v1/messages/batches"): [
        ("get", "/v1/messages/batches/{message_batch_id}", "message_batch_id", "$response.body#/id"),
        ("post", "/v1/messages/batches/{message_batch_id}/cancel", "message_batch_id", "$response.body#/id"),
        ("delete", "/v1/messages/batches/{message_batch_id}", "message_batch_id", "$response.body#/id"),
    ],
}
# Request bodies that are not JSON.
_MULTIPART = {
    ("POST", "/v1/files"),
    ("POST", "/v1/audio/transcriptions"),
    ("POST", "/v1/audio/translations"),
    ("POST", "/v1/images/edits"),
    ("POST", "/v1/images/variations"),
}
# POST operations without a request body.
_NO_BODY = {("POST", family + "/{response_id}/cancel") for family in _RESPONSES_FAMILIES}
# Request bodies particular to one operation (others: by provider and endpoint).
_ITEMS: Schema = {"type": "array", "maxItems": 20, "items": {"type": "object"}}
_METADATA: Schema = {
    "type": "object",
    "maxProperties": 16,
    "additionalProperties": {"type": "string", "maxLength": 512},
}
_BODIES: dict[tuple[str, str], Schema] = {
    ("POST", "/v1/images/edits"): bodies.openai_image_edit(),
    ("POST", "/v1/images/variations"): bodies.openai_image_variation(),
    ("POST", "/v1/conversations"): {"type": "object", "properties": {"items": _ITEMS, "metadata": _METADATA}},
    ("POST", "/v1/conversations/{conversation_id}"): {
        "type": "object",
        "required": ["metadata"],
        "properties": {"metadata": _METADATA},
    },
    ("POST", "/v1/conversations/{conversation_id}/items"): {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {**_ITEMS, "minItems": 1}},
    },
}
_LIST_QUERY: list[Schema] = [
    {"name": "after", "in": "query", "required": False, "schema": {"type": "string"}},
    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    {"name": "order", "in": "query", "required": False, "schema": {"enum": ["asc", "desc"]}},
]
_INCLUDE_QUERY: Schema = {
    "name": "include",
    "in": "query",
    "required": False,
    "description": "Checked against the values POST /v1/responses accepts.",
    "schema": {"type": "array", "items": {"enum": list(INCLUDABLE)}},
}
# The Responses API's query parameters, by operation within a family (see _responses_query).
_RESPONSE_QUERY: dict[tuple[str, str], list[Schema]] = {
    ("GET", "/{response_id}/input_items"): [*_LIST_QUERY, _INCLUDE_QUERY],
    ("GET", "/{response_id}"): [
        {
            "name": "stream",
            "in": "query",
            "required": False,
            "description": "true: replay a background response's events (and follow them to its end).",
            "schema": {"type": "boolean"},
        },
        {
            "name": "starting_after",
            "in": "query",
            "required": False,
            "description": "With stream: the sequence number after which events are replayed.",
            "schema": {"type": "integer", "minimum": -1},
        },
    ],
}


def _responses_query() -> dict[tuple[str, str], list[Schema]]:
    """Each Responses API operation's query parameters in each family (Azure's versioned one: api-version)."""
    query = {}
    for family in _RESPONSES_FAMILIES:
        version = [_API_VERSION_PARAM] if family == "/openai/responses" else []
        for method, suffix in (("post", ""), *_RESPONSE_LOOKUPS):
            key = (method.upper(), family + suffix)
            query[key] = _RESPONSE_QUERY.get((method.upper(), suffix), []) + version
    return query


# Query parameters of operations that take any.
_QUERY: dict[tuple[str, str], list[Schema]] = {
    ("GET", "/v1/conversations/{conversation_id}/items"): _LIST_QUERY,
    **_responses_query(),
}


class _Catalogue:
    """The model sets each route accepts, from the configured catalogue."""

    def __init__(self, catalogue: Catalogue, accept_unknown: bool, deployments: dict[str, str]) -> None:
        def google(spec: ModelSpec) -> bool:
            return spec.provider == "google"

        self.generation = models(catalogue, accept_unknown, is_generation)
        self.embedding = models(catalogue, False, lambda s: s.is_embedding)
        self.every = models(catalogue, False, lambda s: True)
        self.google = models(catalogue, False, google)
        # Gemini's methods: generation on chat models, embedding on embedding models, tokens on both.
        self.gemini = {
            "generateContent": models(catalogue, accept_unknown, lambda s: google(s) and not s.is_embedding),
            "countTokens": models(catalogue, accept_unknown, google),
            "embedContent": models(catalogue, False, lambda s: google(s) and s.is_embedding),
        }
        self.gemini["streamGenerateContent"] = self.gemini["generateContent"]
        self.gemini["batchEmbedContents"] = self.gemini["embedContent"]
        self.gemini["batchGenerateContent"] = self.gemini["generateContent"]
        self.gemini["asyncBatchEmbedContent"] = self.gemini["embedContent"]
        self._catalogue = catalogue
        self._deployments = deployments

    def deployments(self, embedding: bool) -> Models:
        """Azure deployment names serving the right kind of model: the configured ones, then model names."""
        served = self.embedding if embedding else self.generation
        named: list[tuple[str, ModelSpec]] = []
        for name, target in self._deployments.items():
            spec = self._catalogue.lookup(target)
            if spec is not None and spec.is_embedding == embedding:
                named.append((name, spec))
        named += [(name, spec) for name, spec in served.named if name not in self._deployments]
        return Models(tuple(named), served.accept_unknown)


def _path(template: str) -> tuple[str, list[str]]:
    """An OpenAPI path (``{model:path}`` becomes ``{model}``) and its parameter names."""
    return _PARAM.sub(r"{\1}", template), _PARAM.findall(template)


def _path_param(name: str, schema: Schema, description: str = "") -> Schema:
    param = {"name": name, "in": "path", "required": True, "schema": schema}
    return param | {"description": description} if description else param


def _model_param(allowed: Models) -> Schema:
    schema = allowed.enum()
    return schema | {"pattern": _SEGMENT} if "enum" not in schema else schema


def _operation_id(provider: str, method: str, path: str) -> str:
    return f"{provider}_{method}_" + re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")


def _operation(provider: str, method: str, path: str, parameters: list[Schema], body: Schema | None) -> Schema:
    operation: Schema = {
        "operationId": _operation_id(provider, method, path),
        "tags": [provider],
        "parameters": parameters,
        "responses": {
            "200": {"description": "The provider's response (JSON or an event stream)"},
            "default": {"description": "An error in the provider's own shape"},
        },
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


def _gemini_operations(route: Route, sets: _Catalogue) -> list[tuple[str, Schema]]:
    """One operation per Gemini method on the shared ``{model}:{method}`` route."""
    generate = {
        "generateContent": bodies.gemini_generate,
        "streamGenerateContent": bodies.gemini_generate,
        "countTokens": bodies.gemini_count_tokens,
        "embedContent": bodies.gemini_embed,
        "batchEmbedContents": bodies.gemini_batch_embed,
        "batchGenerateContent": bodies.gemini_batch_generate,
        "asyncBatchEmbedContent": bodies.gemini_async_batch_embed,
    }
    operations = []
    for method in GENERATE_ACTIONS + EMBED_ACTIONS + BATCH_ACTIONS:
        path = route.path.replace(_GEMINI_TARGET, "{model}:" + method)
        allowed = sets.gemini[method]
        parameters = [_path_param("model", _model_param(allowed), f"A model that serves {method}.")]
        if method == "streamGenerateContent":
            parameters.append(_ALT_PARAM)
        operations.append((path, _operation("gemini", "post", path, parameters, generate[method](allowed))))
    return operations


def _azure_operation(route: Route, sets: _Catalogue) -> tuple[str, Schema]:
    path, _ = _path(route.path)
    deployments = sets.deployments(embedding=route.endpoint == "embedding")
    described = "A deployment under models.azure_deployments, or one named after the model it serves."
    parameters = [_path_param("deployment", _model_param(deployments), described), _API_VERSION_PARAM]
    body = {
        "chat": bodies.openai_chat,
        "completion": bodies.openai_completion,
        "embedding": bodies.openai_embedding,
    }[route.endpoint](deployments, azure=True)
    return path, _operation("openai", "post", path, parameters, body)


def _body(provider: str, endpoint: str, sets: _Catalogue, max_requests: int) -> Schema:
    builders: dict[tuple[str, str], Callable[[], Schema]] = {
        ("openai", "chat"): lambda: bodies.openai_chat(sets.generation),
        ("openai", "completion"): lambda: bodies.openai_completion(sets.generation),
        ("openai", "embedding"): lambda: bodies.openai_embedding(sets.embedding),
        ("openai", "responses"): lambda: bodies.openai_responses(sets.generation),
        ("openai", "files"): bodies.openai_file_upload,
        ("openai", "batches"): bodies.openai_batch,
        ("openai", "transcription"): bodies.openai_transcription,
        ("openai", "translation"): lambda: bodies.openai_transcription(translation=True),
        ("anthropic", "messages"): lambda: bodies.anthropic_messages(sets.generation),
        ("anthropic", "count_tokens"): lambda: bodies.anthropic_count_tokens(sets.generation),
        ("anthropic", "batches"): lambda: bodies.anthropic_message_batch(sets.generation, max_requests),
        ("gemini", "files"): bodies.gemini_file_upload,
    }
    build = builders.get((provider, endpoint))
    return build() if build is not None else _ANY_OBJECT


def _parameters(path: str, names: list[str], sets: _Catalogue) -> list[Schema]:
    parameters = []
    for name in names:
        if name == "model":
            # Gemini's own paths list Google's models; the shared /v1/models/{model} any model.
            allowed = sets.google if path.startswith("/v1beta/") else sets.every
            parameters.append(_path_param(name, _model_param(allowed)))
        else:
            parameters.append(_path_param(name, {"type": "string", "minLength": 1}))
    return parameters


def _add_links(paths: dict[str, dict[str, Any]]) -> None:
    """OpenAPI links from operations that create something to those that look it up."""
    for (method, path), targets in _LINKS.items():
        source = paths.get(path, {}).get(method)
        if source is None:
            continue
        links = {}
        for target_method, target_path, name, expression in targets:
            target = paths.get(target_path, {}).get(target_method)
            if target is not None:
                links[target["operationId"]] = {"operationId": target["operationId"], "parameters": {name: expression}}
        if links:
            source["responses"]["200"]["links"] = links


def build_openapi(app: Served) -> dict[str, Any]:
    """The OpenAPI document of ``app``'s routes and catalogue."""
    config = app.config.models
    sets = _Catalogue(app.sim.catalogue, config.accept_unknown, dict(config.azure_deployments))
    paths: dict[str, dict[str, Any]] = {}
    for route, provider in app.route_table:
        method = route.method.lower()
        # Ollama's routes and the Vertex AI paths (server/openapi_doors.py).
        door = describe(route, provider.name, app.sim.catalogue, config.accept_unknown)
        if door is not None:
            for path, parameters, door_body in door:
                paths.setdefault(path, {})[method] = _operation(provider.name, method, path, parameters, door_body)
            continue
        if _GEMINI_TARGET in route.path:
            for path, operation in _gemini_operations(route, sets):
                paths.setdefault(path, {})[method] = operation
            continue
        if _AZURE_DEPLOYMENT in route.path:
            path, operation = _azure_operation(route, sets)
            paths.setdefault(path, {})[method] = operation
            continue
        if openapi_bedrock.is_bedrock_route(route.path):
            for path, parameters, schema in openapi_bedrock.operations(app.sim.catalogue):
                paths.setdefault(path, {})[method] = _operation(provider.name, method, path, parameters, schema)
            continue
        # Gemini's one action on a batch rides in its last path segment, as ``batches/{id}:cancel``.
        path, names = _path(route.path.replace(_GEMINI_BATCH_ACTION, "{batch_id}:cancel"))
        item = paths.setdefault(path, {})
        if method in item:
            known = item[method]["parameters"]
            item[method]["parameters"] = known + [p for p in _SELECTORS if p not in known]
            item[method]["tags"] = sorted({*item[method]["tags"], provider.name})
            continue
        key = (route.method, route.path)
        max_requests = app.config.batches.max_requests_per_batch
        body = _BODIES.get(key) or (
            _body(provider.name, route.endpoint, sets, max_requests) if route.method in ("POST", "PUT") else None
        )
        parameters = _parameters(path, names, sets) + _QUERY.get(key, [])
        item[method] = _operation(provider.name, method, path, parameters, None if key in _NO_BODY else body)
        if (route.method, route.path) in _MULTIPART:
            content = item[method]["requestBody"]["content"]
            content["multipart/form-data"] = content.pop("application/json")
    _add_links(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "llm-simulator",
            "version": __version__,
            "description": (
                "OpenAI, Anthropic, Gemini (and Vertex AI), Ollama and Bedrock runtime API routes"
                " served by the simulator."
            ),
        },
        "paths": paths,
    }
