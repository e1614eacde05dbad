"""Structured outputs the API refuses get its 400 ``invalid_request_error``, never a silent ignore."""

from __future__ import annotations

import copy
from typing import Any

import anthropic
import httpx
import pytest

from tests.providers.anthropic.helpers import BODY, MODEL, USER, assert_anthropic_error

INVALID = "invalid_request_error"
ASK: list[Any] = USER
GOOD: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
    "additionalProperties": False,
}


def _with_format(schema: Any, **extra: Any) -> dict[str, Any]:
    return {**BODY, "max_tokens": 256, "output_config": {"format": {"type": "json_schema", "schema": schema}}, **extra}


def _refused(http: httpx.Client, body: Any, *expected: str, headers: dict[str, str] | None = None) -> str:
    message: str = assert_anthropic_error(http.post("/v1/messages", json=body, headers=headers), 400, INVALID)[
        "message"
    ]
    for part in expected:
        assert part in message, message
    return message


def _prop(schema: dict[str, Any]) -> dict[str, Any]:
    """An object schema with one required property ``x`` of ``schema``."""
    return {"type": "object", "properties": {"x": schema}, "required": ["x"], "additionalProperties": False}


# -- The format object -------------------------------------------------------------------------


def test_unknown_format_type(http: httpx.Client) -> None:
    body = {**BODY, "output_config": {"format": {"type": "json_object", "schema": GOOD}}}
    _refused(http, body, "output_config.format.type", "'json_object'", "'json_schema'")


def test_missing_schema(http: httpx.Client) -> None:
    body = {**BODY, "output_config": {"format": {"type": "json_schema"}}}
    _refused(http, body, "output_config.format.schema", "required")


@pytest.mark.parametrize("schema", ["{}", [GOOD], 3])
def test_schema_not_an_object(http: httpx.Client, schema: Any) -> None:
    _refused(http, _with_format(schema), "output_config.format.schema")


@pytest.mark.parametrize("config", ["json", ["format"], 1])
def test_output_config_not_an_object(http: httpx.Client, config: Any) -> None:
    _refused(http, {**BODY, "output_config": config}, "output_config")


def test_unknown_effort(http: httpx.Client) -> None:
    _refused(http, {**BODY, "output_config": {"effort": "extreme"}}, "output_config.effort")


def test_both_spellings_at_once(http: httpx.Client) -> None:
    body = _with_format(GOOD, output_format={"type": "json_schema", "schema": GOOD})
    _refused(http, body, "output_format", "output_config.format")


def test_beta_spelling_gets_the_same_checks(http: httpx.Client) -> None:
    body = {**BODY, "output_format": {"type": "json_schema", "schema": {"type": "object", "properties": {}}}}
    headers = {"anthropic-beta": "structured-outputs-2025-11-13"}
    _refused(http, body, "output_format.schema: For 'object' type, 'additionalProperties'", headers=headers)


# -- Schemas outside the supported subset ------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "object", "properties": {"a": {"type": "string"}}}, "'additionalProperties' must be explicitly"),
        ({**GOOD, "additionalProperties": True}, "'additionalProperties: true' is not supported"),
        ({**GOOD, "additionalProperties": {"type": "string"}}, "'additionalProperties: true' is not supported"),
        (_prop({"type": "object", "properties": {}}), "'additionalProperties' must be explicitly"),
        (_prop({"type": "integer", "minimum": 0}), "For 'integer' type, property 'minimum' is not supported"),
        (_prop({"type": "number", "minimum": 0, "maximum": 1}), "properties maximum, minimum are not supported"),
        (_prop({"type": "number", "multipleOf": 2}), "property 'multipleOf'"),
        (_prop({"type": "string", "maxLength": 5}), "For 'string' type, property 'maxLength' is not supported"),
        (_prop({"type": "string", "format": "ipv5"}), "format 'ipv5' is not supported"),
        (_prop({"type": "array", "items": {"type": "string"}, "maxItems": 3}), "property 'maxItems'"),
        (_prop({"type": "array", "items": {"type": "string"}, "uniqueItems": True}), "property 'uniqueItems'"),
        (_prop({"type": "array", "items": {"type": "string"}, "minItems": 2}), "'minItems' values other than 0 or 1"),
        (_prop({"oneOf": [{"type": "string"}, {"type": "integer"}]}), "Schema type 'oneOf' is not supported"),
        (_prop({"not": {"type": "string"}}), "Schema type 'not' is not supported"),
        (_prop({"type": "string", "enum": [{"a": 1}]}), "enum values must be primitives"),
        (
            _prop({"type": ["string", "null"], "enum": ["a", 3]}),
            """Enum value 3 does not match declared type '["string","null"]'""",
        ),
        (_prop({"$ref": "https://example.com/schema.json"}), "External $ref is not supported"),
        (
            {**_prop({"$ref": "#/$defs/node"}), "$defs": {"node": _prop({"$ref": "#/$defs/node"})}},
            "Circular reference detected in schema definitions: node -> node",
        ),
        (
            {
                **_prop({"$ref": "#/$defs/a"}),
                "$defs": {"a": _prop({"$ref": "#/$defs/b"}), "b": _prop({"$ref": "#/$defs/a"})},
            },
            "Circular reference detected",
        ),
    ],
)
def test_unsupported_schema(http: httpx.Client, schema: dict[str, Any], expected: str) -> None:
    _refused(http, _with_format(schema), "output_config.format.schema: ", expected)


def test_schema_nobody_can_satisfy(http: httpx.Client) -> None:
    schema = {**GOOD, "required": ["name", "age"]}  # "age" is required but not allowed
    _refused(http, _with_format(schema), "output_config.format.schema: Invalid schema")


def test_supported_keywords_are_accepted(http: httpx.Client) -> None:
    schema = {
        "type": "object",
        "title": "T",
        "description": "d",
        "properties": {
            "s": {"type": "string", "pattern": "^[a-z]+$", "default": "a"},
            "c": {"const": "x"},
            "e": {"enum": ["a", 1, None, True]},
            "all": {"allOf": [{"$ref": "#/definitions/d"}]},
            "list": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
            "when": {"type": "string", "format": "date-time"},
        },
        "required": ["s", "c", "e", "all", "list", "when"],
        "additionalProperties": False,
        "definitions": {"d": {"type": "string", "format": "uuid"}},
    }
    resp = http.post("/v1/messages", json=_with_format(schema))
    assert resp.status_code == 200, resp.text


# -- Combinations the API refuses --------------------------------------------------------------


@pytest.mark.parametrize("model", ["claude-3-5-haiku-20241022", "claude-sonnet-4-20250514", "claude-3-haiku-20240307"])
def test_model_without_structured_outputs(http: httpx.Client, model: str) -> None:
    _refused(http, {**_with_format(GOOD), "model": model}, "does not support structured outputs")


def test_assistant_prefill(http: httpx.Client) -> None:
    body = _with_format(GOOD, messages=[*USER, {"role": "assistant", "content": '{"name": "'}])
    _refused(http, body, "Prefilling", "output_config.format")


def test_citations(http: httpx.Client) -> None:
    document = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "The sky is blue."},
        "citations": {"enabled": True},
    }
    messages = [{"role": "user", "content": [document, {"type": "text", "text": "Colour?"}]}]
    _refused(http, _with_format(GOOD, messages=messages), "Citations", "output_config.format")


# -- Strict tools ------------------------------------------------------------------------------


def _tool(name: str, schema: dict[str, Any], strict: Any = True) -> dict[str, Any]:
    return {"name": name, "input_schema": schema, "strict": strict}


def test_strict_tool_schema_outside_the_subset(http: httpx.Client) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 3}}, "required": ["n"]}
    body = {**BODY, "tools": [_tool("count", GOOD), _tool("f", schema)]}
    _refused(http, body, "tools.1.input_schema: For 'object' type")
    # The same schema without strict is accepted: it is not constrained.
    body = {**BODY, "tools": [_tool("f", schema, strict=False)]}
    assert http.post("/v1/messages", json=body).status_code == 200


def test_strict_not_a_boolean(http: httpx.Client) -> None:
    _refused(http, {**BODY, "tools": [_tool("f", GOOD, strict="yes")]}, "tools.0.strict")


def test_too_many_strict_tools(http: httpx.Client) -> None:
    tools = [_tool(f"t{i}", GOOD) for i in range(21)]
    _refused(http, {**BODY, "tools": tools}, "Too many strict tools (21)")
    assert http.post("/v1/messages", json={**BODY, "tools": tools[:20]}).status_code == 200


def test_too_many_optional_properties(http: httpx.Client) -> None:
    properties = {f"p{i}": {"type": "string"} for i in range(13)}
    loose = {"type": "object", "properties": properties, "additionalProperties": False}
    # 13 + 13 optional properties across the strict tool and the output format: over 24.
    body = _with_format(loose, tools=[_tool("f", copy.deepcopy(loose))])
    _refused(http, body, "too many optional parameters (26)")


def test_too_many_union_properties(http: httpx.Client) -> None:
    properties = {f"p{i}": {"type": ["string", "null"]} for i in range(17)}
    schema = {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}
    _refused(http, _with_format(schema), "too many parameters with union types (17)")


def test_the_sdk_surfaces_the_error(anthropic_client: anthropic.Anthropic) -> None:
    config: Any = {"format": {"type": "json_schema", "schema": {"type": "object", "properties": {}}}}
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client.messages.create(model=MODEL, max_tokens=64, messages=[*ASK], output_config=config)
    assert "additionalProperties" in caught.value.message
