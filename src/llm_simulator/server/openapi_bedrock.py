"""The Bedrock runtime's part of ``/openapi.json``: one operation per ``/model/{modelId}/{operation}``.

The provider serves all four operations from one route (``/model/{target:path}``: a model id
may hold an encoded ``/``); the document names each operation on its own path, with the
model ids it can answer (Claude models under Bedrock's ids, and the other families' own)
and its body: Converse's for ``converse``/``converse-stream``, a Meta Llama body for
``invoke``/``invoke-with-response-stream`` (the Claude body is described in
docs/providers/bedrock.md). Bounds are Bedrock's own, so valid requests reach the handler.
"""

from __future__ import annotations

from llm_simulator.engine.catalogue import Catalogue
from llm_simulator.providers.bedrock import OPERATIONS
from llm_simulator.providers.bedrock.models import META, NATIVE
from llm_simulator.server.openapi_bodies import Schema

ROUTE_PREFIX = "/model/"
_TEXT_BLOCK: Schema = {
    "type": "object",
    "properties": {"text": {"type": "string", "pattern": r"\S", "maxLength": 2000}},
    "required": ["text"],
    "additionalProperties": False,
}
_CONVERSE: Schema = {
    "type": "object",
    "properties": {
        # One user turn: alternation and the first role are checked, and described in the docs.
        "messages": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "role": {"const": "user"},
                    "content": {"type": "array", "items": _TEXT_BLOCK, "minItems": 1, "maxItems": 4},
                },
                "required": ["role", "content"],
            },
        },
        "system": {"type": "array", "items": _TEXT_BLOCK, "maxItems": 4},
        "inferenceConfig": {
            "type": "object",
            "properties": {
                "maxTokens": {"type": "integer", "minimum": 1, "maximum": 2048},
                "temperature": {"type": "number", "minimum": 0, "maximum": 1},
                "topP": {"type": "number", "minimum": 0, "maximum": 1},
                "stopSequences": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 4},
            },
        },
    },
    "required": ["messages"],
}
_LLAMA: Schema = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 1, "maxLength": 4000},
        "max_gen_len": {"type": "integer", "minimum": 1, "maximum": 2048},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["prompt"],
}


def is_bedrock_route(path: str) -> bool:
    """Whether ``path`` is the Bedrock runtime's shared route."""
    return path.startswith(ROUTE_PREFIX)


def model_ids(catalogue: Catalogue) -> tuple[list[str], list[str]]:
    """Bedrock ids Converse serves (the catalogue's Claude models and the native families), and Llama's."""
    claude = [f"anthropic.{spec.id}-v1:0" for spec in catalogue.list_models("anthropic") if spec.kind == "chat"]
    native = [f"{base}-v1:0" for base in NATIVE]
    return claude + native, [model for model in native if model.startswith(META + ".")]


def operations(catalogue: Catalogue) -> list[tuple[str, list[Schema], Schema]]:
    """(path, parameters, body) of every operation."""
    converse_ids, llama_ids = model_ids(catalogue)
    described = []
    for operation, endpoint in OPERATIONS.items():
        ids, body = (converse_ids, _CONVERSE) if endpoint == "converse" else (llama_ids, _LLAMA)
        parameter = {
            "name": "modelId",
            "in": "path",
            "required": True,
            "description": "A Bedrock model id, inference-profile id or ARN (URL-encoded).",
            "schema": {"enum": ids},
        }
        described.append((f"{ROUTE_PREFIX}{{modelId}}/{operation}", [parameter], body))
    return described
