"""``/openapi.json`` operations of the other doors: Ollama's ``/api/*`` and the Vertex AI paths.

Ollama's bodies are open objects (its server ignores unknown fields); Vertex's Gemini
methods take Gemini's bodies (closed, as Google refuses unknown fields) and Claude's
methods take a Messages body without ``model`` (the path names it) and with
``anthropic_version``. Like Gemini's ``{target}`` route, each Vertex route is described
as one operation per method it serves. ``describe`` gives (path, parameters, body)
triples; ``openapi`` wraps them into operations.
"""

from __future__ import annotations

from llm_simulator.core.http import Route
from llm_simulator.engine.catalogue import Catalogue, ModelSpec
from llm_simulator.providers.anthropic.vertex import COUNT_TOKENS, VERTEX_VERSION
from llm_simulator.providers.anthropic.vertex import MARKER as ANTHROPIC_MARKER
from llm_simulator.providers.gemini import vertex_embed
from llm_simulator.providers.gemini.embed import TASK_TYPES
from llm_simulator.providers.gemini.vertex import ACTIONS
from llm_simulator.providers.gemini.vertex import MARKER as GOOGLE_MARKER
from llm_simulator.server import openapi_bodies as bodies
from llm_simulator.server.openapi_bodies import INT32, Models, Schema, models

Described = list[tuple[str, list[Schema], Schema | None]]
_SEGMENT = r"^[^/:]+$"
_TARGET = "{target}"


def _param(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _model(allowed: Models) -> Schema:
    schema = allowed.enum()
    return _param("model", schema if "enum" in schema else schema | {"pattern": _SEGMENT})


_RESOURCE = [
    _param("project", {"type": "string", "pattern": _SEGMENT}),
    _param("location", {"type": "string", "pattern": _SEGMENT}),
]

# -- Ollama ------------------------------------------------------------------------------------

_KEEP_ALIVE: Schema = {"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^-?(\d+(h|m|s|ms))+$"}]}
_OPTIONS: Schema = {
    "type": "object",
    "properties": {
        "num_predict": {"type": "integer", "minimum": -2, "maximum": 4096},
        "num_ctx": {"type": "integer", "minimum": 1, "maximum": 131_072},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "top_k": {"type": "integer", "minimum": 0},
        "seed": INT32,
        "stop": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 4},
    },
}
_COMMON: Schema = {
    "stream": {"type": "boolean"},
    "options": _OPTIONS,
    "format": {"anyOf": [{"enum": ["", "json"]}, {"type": "object", "properties": {"type": {"const": "object"}}}]},
    "think": {"type": "boolean"},
    "keep_alive": _KEEP_ALIVE,
}
_MESSAGE: Schema = {
    "type": "object",
    "properties": {"role": {"enum": ["system", "user", "assistant", "tool"]}, "content": {"type": "string"}},
    "required": ["role", "content"],
}


def _ollama(catalogue: Catalogue, accept_unknown: bool, embedding: bool) -> Models:
    def keep(spec: ModelSpec) -> bool:
        return spec.provider == "ollama" and spec.is_embedding == embedding

    return models(catalogue, accept_unknown and not embedding, keep)


def _ollama_body(route: Route, chat: Models, embed: Models, every: Models) -> Schema | None:
    """The body of one Ollama route (None for a GET)."""
    if route.path == "/api/chat":
        messages = {"type": "array", "items": _MESSAGE, "maxItems": 8}
        properties = {"model": chat.enum(), "messages": messages, **_COMMON}
    elif route.path == "/api/generate":
        text = {"type": "string"}
        properties = {"model": chat.enum(), "prompt": text, "system": text, "suffix": text, **_COMMON}
    elif route.path == "/api/embed":
        dimensions = embed.smallest(lambda s: s.embedding_dimensions or 768, 768)
        texts = {"type": "array", "items": {"type": "string"}, "maxItems": 16}
        properties = {
            "model": embed.enum(),
            "input": {"anyOf": [{"type": "string"}, texts]},
            "truncate": {"type": "boolean"},
            "dimensions": {"type": "integer", "minimum": 1, "maximum": dimensions},
            "keep_alive": _KEEP_ALIVE,
        }
    elif route.path == "/api/embeddings":
        properties = {"model": embed.enum(), "prompt": {"type": "string"}, "keep_alive": _KEEP_ALIVE}
    elif route.path == "/api/show":
        properties = {"model": every.enum(), "verbose": {"type": "boolean"}}
    else:
        return None
    return {"type": "object", "properties": properties, "required": ["model"]}


# -- Vertex AI -----------------------------------------------------------------------------------


def _vertex_gemini(route: Route, catalogue: Catalogue, accept_unknown: bool) -> Described:
    def google(embedding: bool | None) -> Models:
        def keep(spec: ModelSpec) -> bool:
            return spec.provider == "google" and (embedding is None or spec.is_embedding == embedding)

        return models(catalogue, accept_unknown and embedding is False, keep)

    chat, embedding, either = google(False), google(True), google(None)
    dimensions = embedding.smallest(lambda s: s.embedding_dimensions or 768, 768)
    size = {"type": "integer", "minimum": 1, "maximum": dimensions}
    config = {"taskType": {"enum": sorted(TASK_TYPES)}, "title": {"type": "string"}, "outputDimensionality": size}
    content = bodies.gemini_embed(embedding)["properties"]["content"]
    instance = {
        "type": "object",
        "properties": {"content": {"type": "string", "minLength": 1}},
        "required": ["content"],
    }
    described: dict[str, tuple[Models, Schema]] = {
        "generateContent": (chat, bodies.gemini_generate(chat)),
        "streamGenerateContent": (chat, bodies.gemini_generate(chat)),
        "countTokens": (either, bodies.gemini_count_tokens(either)),
        "embedContent": (
            embedding,
            bodies.closed({"content": content, "embedContentConfig": bodies.closed(config)}, ["content"]),
        ),
        "predict": (
            embedding,
            bodies.closed(
                {
                    "instances": {
                        "type": "array",
                        "items": instance,
                        "minItems": 1,
                        "maxItems": vertex_embed.MAX_INSTANCES,
                    },
                    "parameters": bodies.closed({"outputDimensionality": size, "autoTruncate": {"type": "boolean"}}),
                },
                ["instances"],
            ),
        ),
    }
    return [
        (route.path.replace(_TARGET, "{model}:" + action), [*_RESOURCE, _model(allowed)], body)
        for action, (allowed, body) in ((a, described[a]) for a in ACTIONS)
    ]


def _without_model(body: Schema) -> Schema:
    """A Messages body for a Vertex path: no ``model``, ``anthropic_version`` required."""
    properties = {k: v for k, v in body["properties"].items() if k != "model"}
    properties["anthropic_version"] = {"const": VERTEX_VERSION}
    required = [k for k in body["required"] if k != "model"] + ["anthropic_version"]
    return {"type": "object", "properties": properties, "required": required}


def _vertex_anthropic(route: Route, catalogue: Catalogue) -> Described:
    claude = models(catalogue, False, lambda s: s.provider == "anthropic" and s.kind == "chat")
    messages = _without_model(bodies.anthropic_messages(claude))
    # The smallest output limit: the body cannot be tied to the model in the path.
    limit = claude.smallest(lambda s: s.max_output_tokens, 4096)
    messages["properties"]["max_tokens"] = {"type": "integer", "minimum": 1, "maximum": limit}
    count = bodies.anthropic_count_tokens(claude)
    count = count | {"properties": count["properties"] | {"anthropic_version": {"const": VERTEX_VERSION}}}
    count["required"] = [*count["required"], "anthropic_version"]
    streamed = messages | {"properties": messages["properties"] | {"stream": {"const": True}}}
    return [
        (route.path.replace(_TARGET, "{model}:rawPredict"), [*_RESOURCE, _model(claude)], messages),
        (route.path.replace(_TARGET, "{model}:streamRawPredict"), [*_RESOURCE, _model(claude)], streamed),
        (route.path.replace(_TARGET, COUNT_TOKENS + ":rawPredict"), list(_RESOURCE), count),
    ]


def describe(route: Route, provider: str, catalogue: Catalogue, accept_unknown: bool) -> Described | None:
    """(path, parameters, body) of each operation of an Ollama or Vertex route; None for any other route."""
    if GOOGLE_MARKER in route.path:
        return _vertex_gemini(route, catalogue, accept_unknown)
    if ANTHROPIC_MARKER in route.path:
        return _vertex_anthropic(route, catalogue)
    if provider != "ollama":
        return None
    chat = _ollama(catalogue, accept_unknown, embedding=False)
    embed = _ollama(catalogue, accept_unknown, embedding=True)
    every = models(catalogue, False, lambda s: s.provider == "ollama")
    return [(route.path, [], _ollama_body(route, chat, embed, every))]


__all__ = ["describe"]
