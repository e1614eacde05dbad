"""``GET /openapi.json``: an OpenAPI 3.1 document of every route the simulator serves.

Built from the route table at start-up, so it never drifts from what is served. Request
bodies carry deliberately small schemas (the fields every client sends, and the models the
catalogue knows) so that a fuzzer generating from the document reaches the handlers' deep
paths as well as their validation; the providers' own references are the full contracts.
Paths shared by several providers (``GET /v1/models``) appear once, with the headers that
select each provider documented as optional parameters.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from llm_simulator._version import __version__

if TYPE_CHECKING:
    from llm_simulator.server.app import SimulatorApp

_PARAM = re.compile(r"\{(\w+)(?::path)?\}")

_OPENAI_MESSAGES: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"role": {"enum": ["system", "developer", "user", "assistant"]}, "content": {"type": "string"}},
        "required": ["role", "content"],
    },
}
_ANTHROPIC_MESSAGES: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"role": {"enum": ["user", "assistant"]}, "content": {"type": "string"}},
        "required": ["role", "content"],
    },
}
_TOKENS = {"type": "integer", "minimum": 1, "maximum": 64}

# Request body schema per (provider, endpoint).
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("openai", "chat"): {
        "type": "object",
        "properties": {
            "model": {"enum": ["gpt-4.1", "gpt-4o-mini", "gpt-5.1"]},
            "messages": _OPENAI_MESSAGES,
            "max_tokens": _TOKENS,
            "n": {"type": "integer", "minimum": 1, "maximum": 3},
            "stream": {"type": "boolean"},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "stop": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
            "seed": {"type": "integer"},
        },
        "required": ["model", "messages"],
    },
    ("openai", "completion"): {
        "type": "object",
        "properties": {
            "model": {"enum": ["gpt-3.5-turbo-instruct", "gpt-4.1"]},
            "prompt": {"type": "string"},
            "max_tokens": _TOKENS,
            "stream": {"type": "boolean"},
            "echo": {"type": "boolean"},
            "logprobs": {"type": "integer", "minimum": 0, "maximum": 5},
        },
        "required": ["model", "prompt"],
    },
    ("openai", "embedding"): {
        "type": "object",
        "properties": {
            "model": {"enum": ["text-embedding-3-small", "text-embedding-3-large"]},
            "input": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 4}]},
            "dimensions": {"type": "integer", "minimum": 1, "maximum": 256},
        },
        "required": ["model", "input"],
    },
    ("openai", "responses"): {
        "type": "object",
        "properties": {
            "model": {"enum": ["gpt-4.1", "gpt-5.1"]},
            "input": {"type": "string"},
            "instructions": {"type": "string"},
            "max_output_tokens": {"type": "integer", "minimum": 16, "maximum": 64},
            "stream": {"type": "boolean"},
        },
        "required": ["model", "input"],
    },
    ("anthropic", "messages"): {
        "type": "object",
        "properties": {
            "model": {"enum": ["claude-sonnet-4-5", "claude-haiku-4-5"]},
            "max_tokens": _TOKENS,
            "messages": _ANTHROPIC_MESSAGES,
            "system": {"type": "string"},
            "stream": {"type": "boolean"},
            "stop_sequences": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
        },
        "required": ["model", "max_tokens", "messages"],
    },
    ("anthropic", "count_tokens"): {
        "type": "object",
        "properties": {"model": {"enum": ["claude-sonnet-4-5"]}, "messages": _ANTHROPIC_MESSAGES},
        "required": ["model", "messages"],
    },
    ("gemini", "generate"): {
        "type": "object",
        "properties": {
            "contents": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "role": {"enum": ["user", "model"]},
                        "parts": {
                            "type": "array",
                            "items": {"type": "object", "properties": {"text": {"type": "string"}}},
                        },
                    },
                },
            },
            "generationConfig": {
                "type": "object",
                "properties": {"maxOutputTokens": _TOKENS, "temperature": {"type": "number"}},
            },
        },
        "required": ["contents"],
    },
}
_ANY_OBJECT: dict[str, Any] = {"type": "object"}
_SELECTORS = [
    {"name": "anthropic-version", "in": "header", "required": False, "schema": {"type": "string"}},
    {"name": "x-goog-api-key", "in": "header", "required": False, "schema": {"type": "string"}},
]


def _path(template: str) -> tuple[str, list[str]]:
    """An OpenAPI path (``{model:path}`` becomes ``{model}``) and its parameter names."""
    return _PARAM.sub(r"{\1}", template), _PARAM.findall(template)


def build_openapi(app: SimulatorApp) -> dict[str, Any]:
    """The OpenAPI document of ``app``'s routes."""
    paths: dict[str, dict[str, Any]] = {}
    for route, provider in app.route_table:
        path, names = _path(route.path)
        item = paths.setdefault(path, {})
        method = route.method.lower()
        if method in item:
            item[method]["parameters"] = [*item[method].get("parameters", []), *_SELECTORS]
            item[method]["tags"] = sorted({*item[method]["tags"], provider.name})
            continue
        operation: dict[str, Any] = {
            "operationId": f"{provider.name}_{route.endpoint}_{method}_{len(paths)}",
            "tags": [provider.name],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
                for name in names
            ],
            "responses": {
                "200": {"description": "The provider's response (JSON or an event stream)"},
                "default": {"description": "An error in the provider's own shape"},
            },
        }
        if route.method in ("POST", "PUT"):
            schema = BODIES.get((provider.name, route.endpoint), _ANY_OBJECT)
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
        item[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "llm-simulator",
            "version": __version__,
            "description": "OpenAI, Anthropic and Gemini API routes served by the simulator.",
        },
        "paths": paths,
    }
