"""Schemas google-genai sends in snake_case (``max_length``, ``min_items``, ``any_of``) keep their constraints.

The SDK serialises ``types.Schema`` (a pydantic model's ``response_schema``, a declaration's
``parameters``, an automatic function's signature) by field name; the API reads a proto
message's fields in either casing, so the simulator must too.
"""

from __future__ import annotations

from typing import Any

import pydantic
from google import genai
from google.genai import types

from llm_simulator.providers.gemini.tools import camel_schema
from tests.providers.gemini.helpers import CHAT_MODEL

ROUNDS = 6


class Coded(pydantic.BaseModel):
    code: str = pydantic.Field(max_length=4)
    nums: list[int] = pydantic.Field(min_length=3, max_length=3)
    val: int | bool


def test_a_pydantic_response_schema_is_honoured_and_parsed(default_client: genai.Client) -> None:
    for seed in range(ROUNDS):
        config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=Coded, seed=seed)
        response = default_client.models.generate_content(model=CHAT_MODEL, contents="Make one up.", config=config)
        assert isinstance(response.parsed, Coded), response.text
        assert len(response.parsed.code) <= 4 and len(response.parsed.nums) == 3


def forced_calls(client: genai.Client, declaration: types.FunctionDeclaration) -> list[dict[str, Any]]:
    """The arguments of the call ``declaration`` gets when the model must call it, once per seed."""
    calling = types.FunctionCallingConfig(mode=types.FunctionCallingConfigMode.ANY)
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[declaration])],
        tool_config=types.ToolConfig(function_calling_config=calling),
    )
    calls = []
    for seed in range(ROUNDS):
        response = client.models.generate_content(
            model=CHAT_MODEL, contents="Go.", config=config.model_copy(update={"seed": seed})
        )
        assert response.function_calls
        calls.append(response.function_calls[0].args or {})
    return calls


def test_declared_parameters_in_snake_case_are_honoured(default_client: genai.Client) -> None:
    declaration = types.FunctionDeclaration(
        name="tag",
        parameters=types.Schema(
            type=types.Type.OBJECT,
            properties={
                "tags": types.Schema(
                    type=types.Type.ARRAY, items=types.Schema(type=types.Type.STRING), min_items=4, max_items=4
                ),
                "code": types.Schema(type=types.Type.STRING, max_length=3),
            },
            required=["tags", "code"],
        ),
    )
    for args in forced_calls(default_client, declaration):
        assert len(args["tags"]) == 4 and len(args["code"]) <= 3, args


def pick(item: int | bool, tags: list[str]) -> str:
    """Pick an item."""
    return "ok"


def test_a_union_parameter_declared_from_a_callable_gets_one_of_its_types(default_client: genai.Client) -> None:
    # ``from_callable`` (without ``use_json_schema``) declares ``item`` as ``type: OBJECT``
    # with ``any_of`` [INTEGER, BOOLEAN]: the type is the SDK's placeholder.
    declaration = types.FunctionDeclaration.from_callable(client=default_client._api_client, callable=pick)
    assert declaration.parameters is not None and declaration.parameters.properties is not None
    assert declaration.parameters.properties["item"].any_of
    for args in forced_calls(default_client, declaration):
        assert isinstance(args["item"], int | bool), args


def test_only_schema_field_names_change_not_property_names() -> None:
    schema = {
        "type": "OBJECT",
        "property_ordering": ["max_items", "any_of"],
        "properties": {
            "max_items": {"type": "ARRAY", "items": {"type": "STRING", "max_length": 2}, "min_items": 1},
            "any_of": {"any_of": [{"type": "STRING"}, {"type": "INTEGER", "enum": ["min_length"]}]},
        },
    }
    assert camel_schema(schema) == {
        "type": "OBJECT",
        "propertyOrdering": ["max_items", "any_of"],
        "properties": {
            "max_items": {"type": "ARRAY", "items": {"type": "STRING", "maxLength": 2}, "minItems": 1},
            "any_of": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER", "enum": ["min_length"]}]},
        },
    }
    # Both spellings: the camelCase one stands. A typed node with members keeps its type.
    assert camel_schema({"maxLength": 2, "max_length": 9}) == {"maxLength": 2}
    assert camel_schema({"type": "STRING", "any_of": [{"enum": ["a"]}]}) == {
        "type": "STRING",
        "anyOf": [{"enum": ["a"]}],
    }
