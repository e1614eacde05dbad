"""JSON-Schema instance generation: every instance validates (jsonschema is the oracle)."""

from __future__ import annotations

import copy
import datetime
import enum
import ipaddress
import json
import random
import re
import time
import uuid
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import jsonschema
import orjson
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llm_simulator.engine.schema as schema_pkg
from llm_simulator.engine.schema import SchemaError, backtracking, check_schema, generate, normalize
from llm_simulator.engine.schema import api as api_module
from llm_simulator.engine.schema import words as word_lists
from llm_simulator.engine.schema.cache import LRU
from llm_simulator.engine.schema.prepare import Prepared, build
from llm_simulator.engine.schema.regex import parse, sample

Json = dict[str, Any]


def valid(schema: object, seeds: int = 25, **kw: Any) -> list[Any]:
    """Instances for ``seeds`` seeds, each checked by jsonschema and for JSON round-tripping."""
    check_schema(schema)
    validator = jsonschema.Draft202012Validator(normalize(schema))
    out = []
    for seed in range(seeds):
        value = generate(schema, random.Random(seed), **kw)
        validator.validate(value)
        assert json.loads(json.dumps(value)) == value
        out.append(value)
    return out


def test_public_api_is_pinned() -> None:
    assert schema_pkg.__all__ == [
        "OffLoopNeeded",
        "SchemaError",
        "check_schema",
        "generate",
        "normalize",
        "request_budget",
    ]
    assert issubclass(SchemaError, ValueError)


# --- types and scalar keywords ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["string", "number", "integer", "boolean", "null", "object", "array"])
def test_every_type(kind: str) -> None:
    py = {"string": str, "number": float, "integer": int, "boolean": bool, "null": type(None)}
    for value in valid({"type": kind}):
        if kind in py:
            assert isinstance(value, py[kind])


def test_type_lists_and_nullable_type_lists_use_every_member() -> None:
    values = valid({"type": ["string", "null"]}, seeds=60)
    assert None in values
    assert any(isinstance(v, str) for v in values)
    kinds = {type(v).__name__ for v in valid({"type": ["integer", "boolean", "array"]}, seeds=40)}
    assert kinds == {"int", "bool", "list"}


def test_boolean_schemas() -> None:
    valid(True)
    with pytest.raises(SchemaError):
        generate(False, random.Random(0))
    assert valid({"type": "object", "properties": {"a": False}}) == [{}] * 25


def test_enum_and_const() -> None:
    values = valid({"enum": ["red", 2, None, {"a": [1]}]}, seeds=60)
    assert {json.dumps(v) for v in values} == {'"red"', "2", "null", '{"a": [1]}'}
    # enum values that break the other keywords are never chosen
    assert set(valid({"type": "string", "enum": ["a", 1, "bb"], "maxLength": 1})) == {"a"}
    assert valid({"const": {"x": [1, 2]}}, seeds=3) == [{"x": [1, 2]}] * 3
    schema: Json = {"enum": [[1]]}
    generate(schema, random.Random(0)).append(2)  # type: ignore[attr-defined]
    assert schema == {"enum": [[1]]}  # the result is a copy


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer", "minimum": 5, "maximum": 7},
        {"type": "integer", "exclusiveMinimum": 5, "exclusiveMaximum": 7},
        {"type": "integer", "minimum": -1000, "maximum": -990, "multipleOf": 3},
        {"type": "integer", "multipleOf": 2.5},
        {"type": "integer", "minimum": 2**63 - 5},
        {"type": "integer", "maximum": -(2**63) + 5},
        {"type": "number", "minimum": 1e20},
        {"type": "number", "multipleOf": 1, "minimum": 1e20, "maximum": 1e21},
        {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        {"type": "number", "minimum": 0.1, "maximum": 0.1},
        {"type": "number", "minimum": 1e-9, "exclusiveMaximum": 2e-9},
        {"type": "number", "multipleOf": 0.1, "minimum": 0.25, "maximum": 0.95},
        {"type": "number", "multipleOf": 0.01, "exclusiveMinimum": 0},
        {"type": "number", "maximum": -500},
    ],
)
def test_numeric_bounds(schema: Json) -> None:
    valid(schema)


def test_integer_with_exclusive_bounds_has_one_choice() -> None:
    assert set(valid({"type": "integer", "exclusiveMinimum": 5, "exclusiveMaximum": 7})) == {6}


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "minLength": 40},
        {"type": "string", "maxLength": 2},
        {"type": "string", "minLength": 0, "maxLength": 0},
        {"type": "string", "minLength": 7, "maxLength": 7},
    ],
)
def test_string_lengths(schema: Json) -> None:
    valid(schema)


def _is_date_time(value: str) -> bool:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


FORMAT_CHECKS: dict[str, Any] = {
    "date-time": _is_date_time,
    "date": datetime.date.fromisoformat,
    "time": lambda v: datetime.time.fromisoformat(v.replace("Z", "+00:00")).tzinfo is not None,
    "email": lambda v: re.fullmatch(r"[a-z]+\.[a-z]+@example\.(com|org|net)", v),
    "uri": lambda v: urlsplit(v).scheme == "https" and urlsplit(v).netloc,
    "url": lambda v: urlsplit(v).scheme == "https" and urlsplit(v).netloc,
    "uuid": lambda v: uuid.UUID(v).version == 4,
    "ipv4": ipaddress.IPv4Address,
    "ipv6": ipaddress.IPv6Address,
    "hostname": lambda v: re.fullmatch(r"[a-z]+(\.[a-z]+)+", v),
}


@pytest.mark.parametrize("fmt", sorted(FORMAT_CHECKS))
def test_string_formats(fmt: str) -> None:
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    for value in valid({"type": "string", "format": fmt}):
        assert FORMAT_CHECKS[fmt](value), value
        checker.check(value, fmt)  # the formats jsonschema can check without extras


def test_format_yields_to_lengths_it_cannot_meet() -> None:
    valid({"type": "string", "format": "date-time", "maxLength": 5})


@pytest.mark.parametrize(
    "pattern",
    [
        r"^[A-Z]{3}-\d{4}$",
        r"^(foo|bar)+baz?$",
        r"^[a-z0-9_]{3,8}$",
        r"^\+?[1-9]\d{1,14}$",
        r"^#[0-9a-fA-F]{6}$",
        r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$",
        r"^(?:\d{1,3}\.){3}\d{1,3}$",
        r"^(?P<word>[a-z]+)-(?P=word)$",
        r"\d",
        r"^\w+(\.\w+)*$",
        r"^(?=.*\d)(?=.*[a-z])[a-z\d]{8}$",
        r"^(?=.*[A-Z])(?=.*\d)(?=.*[!@#$%^&*]).{8,}$",
        r"^(\w)\1$",
        r"^[\u00e0-\u00ff]{2}$",
        r"^.{3}$",
        r"^a{2,}?b*c+$",
    ],
)
def test_patterns(pattern: str) -> None:
    for value in valid({"type": "string", "pattern": pattern}):
        assert re.search(pattern, value)


def test_pattern_with_lengths() -> None:
    for value in valid({"type": "string", "pattern": "^[a-z]+$", "minLength": 30, "maxLength": 40}):
        assert 30 <= len(value) <= 40


def test_regex_sampler_directly() -> None:
    rng = random.Random(0)
    node = parse(r"^(ab|cd){2}[x-z]\d?$")
    for _ in range(50):
        assert re.fullmatch(r"(ab|cd){2}[x-z]\d?", sample(node, rng))


def test_impossible_pattern_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="pattern"):
        generate({"type": "string", "pattern": "^a$", "minLength": 2}, random.Random(0))


# --- objects -----------------------------------------------------------------------------

PERSON: Json = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
        "email": {"type": "string"},
        "nickname": {"type": "string"},
    },
    "required": ["name", "age"],
}


def test_required_always_present_optional_sometimes() -> None:
    values = valid(PERSON, seeds=60)
    assert all({"name", "age"} <= set(v) for v in values)
    assert any("email" in v for v in values)
    assert any("email" not in v for v in values)


def test_key_order_follows_properties_then_property_ordering() -> None:
    full = {**PERSON, "required": ["nickname", "email", "age", "name"]}
    assert all(list(v) == ["name", "age", "email", "nickname"] for v in valid(full))
    ordered = {**full, "propertyOrdering": ["email", "name", "nickname", "age"]}
    assert all(list(v) == ["email", "name", "nickname", "age"] for v in valid(ordered))


def test_additional_properties() -> None:
    closed = {**PERSON, "additionalProperties": False, "minProperties": 3}
    for value in valid(closed):
        assert set(value) <= set(PERSON["properties"])
        assert len(value) >= 3
    mapping = valid({"type": "object", "additionalProperties": {"type": "integer"}})
    assert all(isinstance(v, int) for m in mapping for v in m.values())
    valid({"type": "object", "minProperties": 3, "maxProperties": 3})


def test_pattern_and_property_names() -> None:
    schema: Json = {
        "type": "object",
        "patternProperties": {"^x-[a-z]+$": {"type": "integer"}},
        "additionalProperties": False,
        "minProperties": 2,
    }
    for value in valid(schema):
        assert len(value) >= 2
        assert all(k.startswith("x-") for k in value)
    valid({"type": "object", "propertyNames": {"pattern": "^[A-Z]{3}$"}, "minProperties": 1})
    # a declared property is also subject to a patternProperties schema that matches its name
    valid({"type": "object", "properties": {"a1": {"type": "number"}}, "patternProperties": {"^a": {"minimum": 5}}})


def test_dependent_required() -> None:
    schema: Json = {
        "type": "object",
        "properties": {"card": {"type": "string"}, "billing": {"type": "string"}, "zip": {"type": "string"}},
        "dependentRequired": {"card": ["billing"], "billing": ["zip"]},
    }
    values = valid(schema, seeds=40)
    assert any("card" in v for v in values)


def test_required_key_forbidden_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="'b'") as info:
        check_schema({"type": "object", "required": ["b"], "additionalProperties": False})
    assert info.value.path == "properties.b"


# --- arrays ------------------------------------------------------------------------------


def test_array_lengths() -> None:
    assert all(1 <= len(v) <= 3 for v in valid({"type": "array", "items": {"type": "integer"}}))
    assert all(len(v) == 5 for v in valid({"type": "array", "minItems": 5, "maxItems": 5}))
    assert valid({"type": "array", "maxItems": 0}) == [[]] * 25


def test_unique_items() -> None:
    for value in valid({"type": "array", "items": {"enum": [1, 1.0, 2, True]}, "uniqueItems": True}):
        assert len(value) <= 3
    valid({"type": "array", "items": {"type": "boolean"}, "uniqueItems": True, "minItems": 2})
    with pytest.raises(SchemaError, match="distinct"):
        generate({"type": "array", "items": {"const": 1}, "uniqueItems": True, "minItems": 2}, random.Random(0))


def test_prefix_items_and_items_false() -> None:
    schema: Json = {
        "type": "array",
        "prefixItems": [{"type": "string", "format": "date"}, {"type": "integer"}],
        "items": False,
    }
    for value in valid(schema):
        assert len(value) <= 2
    # draft-07 tuple spelling
    valid({"type": "array", "items": [{"type": "string"}, {"type": "null"}], "additionalItems": False})


def test_contains() -> None:
    schema: Json = {
        "type": "array",
        "items": {"type": "integer", "minimum": 0, "maximum": 9},
        "contains": {"const": 7},
        "minContains": 2,
    }
    assert all(v.count(7) >= 2 for v in valid(schema))


# --- composition, references, recursion -------------------------------------------------


def test_any_of_uses_several_branches() -> None:
    schema: Json = {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "integer"}, {"type": "null"}]}
    kinds = {type(v).__name__ for v in valid(schema, seeds=60)}
    assert kinds == {"str", "int", "NoneType"}


def test_one_of_matches_exactly_one_branch() -> None:
    overlapping: Json = {"oneOf": [{"type": "integer"}, {"type": "number", "multipleOf": 0.5}]}
    assert all(not float(v).is_integer() for v in valid(overlapping))
    nested: Json = {"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]}
    assert all(len(v) > 3 for v in valid(nested))
    with pytest.raises(SchemaError):
        generate({"oneOf": [{"type": "string"}, {"type": "string"}]}, random.Random(0))


def test_all_of_merges_parts() -> None:
    schema: Json = {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"a": {"maxLength": 2}, "b": {"type": "integer", "multipleOf": 4}}, "required": ["b"]},
            {"properties": {"b": {"multipleOf": 6, "minimum": 1}}},
        ]
    }
    for value in valid(schema):
        assert len(value["a"]) <= 2
        assert value["b"] % 12 == 0
    valid({"allOf": [{"type": ["number", "string"]}, {"type": ["integer", "null"]}]})
    valid({"allOf": [{"pattern": "^a"}, {"pattern": "b$"}], "type": "string"})
    with pytest.raises(SchemaError, match="type"):
        check_schema({"allOf": [{"type": "string"}, {"type": "integer"}]})


def test_not_is_honoured_by_retrying() -> None:
    schema: Json = {"type": "integer", "minimum": 1, "maximum": 5, "not": {"enum": [1, 2, 3]}}
    assert set(valid(schema)) <= {4, 5}


def test_ref_with_siblings_and_definitions() -> None:
    schema: Json = {
        "definitions": {"Name": {"type": "string", "minLength": 2}},
        "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}},
        "type": "object",
        "properties": {
            "who": {"$ref": "#/definitions/Name", "maxLength": 4},
            "at": {"$ref": "#/$defs/Point", "description": "where"},
            "x": {"$ref": "#/$defs/Point/properties/x"},
        },
        "required": ["who", "at", "x"],
    }
    assert all(2 <= len(v["who"]) <= 4 for v in valid(schema))


TREE: Json = {
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {
                "value": {"type": "integer"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
            "required": ["value", "children"],
            "additionalProperties": False,
        }
    },
    "$ref": "#/$defs/Node",
}


def _depth(tree: Any) -> int:
    return 1 + max((_depth(c) for c in tree["children"]), default=0)


def test_recursive_tree_is_bounded_by_max_depth() -> None:
    for max_depth in (0, 2, 6):
        for value in valid(TREE, seeds=15, max_depth=max_depth):
            # each tree level is an object plus its children array: two containers
            assert _depth(value) <= max_depth // 2 + 1
    assert any(_depth(v) >= 3 for v in valid(TREE, seeds=15))


def test_recursive_linked_list_ends_with_null_branch() -> None:
    schema: Json = {
        "type": "object",
        "properties": {"value": {"type": "string"}, "next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}},
        "required": ["value", "next"],
    }
    valid(schema, max_depth=3)


def test_recursion_that_cannot_end_is_a_schema_error() -> None:
    endless: Json = {"type": "object", "properties": {"next": {"$ref": "#"}}, "required": ["next"]}
    with pytest.raises(SchemaError, match="deeper"):
        generate(endless, random.Random(0))
    with pytest.raises(SchemaError, match="loop"):
        generate({"$defs": {"A": {"$ref": "#/$defs/A"}}, "$ref": "#/$defs/A"}, random.Random(0))


def test_huge_demands_are_refused() -> None:
    with pytest.raises(SchemaError, match="minItems"):
        check_schema({"type": "array", "minItems": 10**6})
    with pytest.raises(SchemaError, match="minLength"):
        check_schema({"type": "string", "minLength": 10**7})


# --- plausible values --------------------------------------------------------------------


def test_values_are_plausible_for_their_names() -> None:
    schema: Json = {
        "type": "object",
        "properties": {
            k: {"type": "string"}
            for k in ("name", "city", "country", "email", "phone", "url", "user_id", "date", "title", "location")
        }
        | {"description": {"type": "string"}, "unit": {"type": "string"}}
        | {"age": {"type": "integer"}, "price": {"type": "number"}, "tags": {"type": "array", "items": {}}},
        "required": [
            *("name", "city", "country", "email", "phone", "url", "user_id", "date", "title", "location"),
            *("description", "unit", "age", "price", "tags"),
        ],
    }
    for v in valid(schema, seeds=10):
        first, last = v["name"].split(" ")
        assert first in word_lists.FIRST_NAMES and last in word_lists.LAST_NAMES
        assert v["city"] in [c for c, _ in word_lists.CITIES]
        assert v["country"] in [c for _, c in word_lists.CITIES]
        assert "@" in v["email"] and v["phone"].startswith("+")
        assert v["url"].startswith("https://")
        assert v["user_id"].startswith("id_") or uuid.UUID(v["user_id"])
        datetime.date.fromisoformat(v["date"])
        assert v["description"].endswith(".")
        assert ", " in v["location"] and v["unit"] == "celsius"
        assert 18 <= v["age"] <= 80 and 1 <= v["price"] <= 500 and round(v["price"], 2) == v["price"]
        assert all(tag in word_lists.CATEGORIES for tag in v["tags"])  # singular of "tags"


def test_top_level_name_hint_and_examples() -> None:
    cities = [c for c, _ in word_lists.CITIES]
    assert all(v in cities for v in valid({"type": "string"}, name="city"))
    values = valid({"type": "string", "examples": ["zebra"]}, seeds=40)
    assert "zebra" in values
    assert not all(v == "zebra" for v in values)


def test_hints_yield_to_constraints() -> None:
    for value in valid({"type": "integer", "minimum": 500, "maximum": 510}, name="age"):
        assert 500 <= value <= 510
    for value in valid({"type": "string", "maxLength": 3}, name="description"):
        assert len(value) <= 3


# --- determinism -------------------------------------------------------------------------


def test_same_seed_same_instance_different_seeds_differ() -> None:
    schema = {**PERSON, "properties": {**PERSON["properties"], "tree": TREE["$defs"]["Node"]}, "$defs": TREE["$defs"]}
    first = [generate(schema, random.Random(seed)) for seed in range(20)]
    again = [generate(copy.deepcopy(schema), random.Random(seed)) for seed in range(20)]
    assert first == again
    assert len({json.dumps(v) for v in first}) >= 18


def test_output_does_not_depend_on_earlier_calls() -> None:
    # Memo tables live in a per-schema cache; they must never change what a seed produces.
    schema: Json = {
        "$defs": {"L": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}, "Node": TREE["$defs"]["Node"]},
        "type": "array",
        "items": {"$ref": "#/$defs/L"},
    }
    api_module.clear_cache()
    fresh = generate(schema, random.Random(5), max_depth=2)
    api_module.clear_cache()
    check_schema(schema)
    for seed in range(10):
        generate(schema, random.Random(seed), max_depth=1)
    assert generate(schema, random.Random(5), max_depth=2) == fresh


def test_generation_continues_the_rng_stream() -> None:
    rng = random.Random(3)
    values = [generate({"type": "integer", "minimum": 0, "maximum": 10**9}, rng) for _ in range(5)]
    assert len(set(values)) == 5


# --- provider dialects -------------------------------------------------------------------

WEATHER_STRICT: Json = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "City and country e.g. Bogotá, Colombia"},
        "units": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit", None]},
        "days": {"type": ["integer", "null"]},
        "filters": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "value": {"anyOf": [{"type": "string"}, {"type": "number"}]},
                },
                "required": ["field", "value"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["location", "units", "days", "filters"],
    "additionalProperties": False,
}


def test_openai_strict_mode_schema() -> None:
    values = valid(WEATHER_STRICT, seeds=40)
    for v in values:
        assert list(v) == ["location", "units", "days", "filters"]
        assert all(list(f) == ["field", "value"] for f in v["filters"])
    assert any(v["units"] is None for v in values)
    assert any(v["days"] is None for v in values) and any(isinstance(v["days"], int) for v in values)


GEMINI: Json = {
    "type": "OBJECT",
    "properties": {
        "recipe_name": {"type": "STRING"},
        "rating": {"type": "INTEGER", "nullable": True, "minimum": 1, "maximum": 5},
        "difficulty": {"type": "STRING", "format": "enum", "enum": ["easy", "hard"]},
        "ingredients": {"type": "ARRAY", "items": {"type": "STRING"}, "maxItems": "2"},
        "nutrition": {"nullable": True, "$ref": "#/$defs/Nutrition"},
    },
    "required": ["recipe_name", "rating", "difficulty", "ingredients", "nutrition"],
    "propertyOrdering": ["difficulty", "recipe_name", "ingredients", "rating", "nutrition"],
    "$defs": {"Nutrition": {"type": "OBJECT", "properties": {"kcal": {"type": "NUMBER"}}, "required": ["kcal"]}},
}


def test_gemini_dialect() -> None:
    original = copy.deepcopy(GEMINI)
    normal = normalize(GEMINI)
    assert original == GEMINI  # not mutated
    assert isinstance(normal, dict)
    assert normal["type"] == "object"
    assert normal["properties"]["rating"]["type"] == ["integer", "null"]
    assert "format" not in normal["properties"]["difficulty"]
    assert normal["properties"]["ingredients"]["maxItems"] == 2
    assert normal["properties"]["nutrition"]["anyOf"][1] == {"type": "null"}
    values = valid(GEMINI, seeds=40)
    assert all(list(v) == GEMINI["propertyOrdering"] for v in values)
    assert any(v["rating"] is None for v in values) and any(v["nutrition"] is None for v in values)
    assert all(len(v["ingredients"]) <= 2 for v in values)


def test_openapi_and_draft4_spellings() -> None:
    schema: Json = {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1, "exclusiveMaximum": True}
    assert normalize(schema) == {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}
    valid(schema)
    valid({"type": "object", "properties": {"a": {"type": "string"}}, "dependencies": {"a": ["b"]}})
    assert normalize({"type": "STRING", "nullable": False}) == {"type": "string"}
    # nullable next to enum: OpenAPI 3.0.3 wants null listed in the enum, so none is added
    assert None not in valid({"type": "STRING", "enum": ["a"], "nullable": True}, seeds=10)
    # a nullable root without a type is wrapped, keeping $defs where "#/$defs/..." finds them
    root: Json = {"$defs": {"P": {"type": "integer"}}, "$ref": "#/$defs/P", "nullable": True}
    assert set(normalize(root)) == {"$defs", "anyOf"}  # type: ignore[arg-type]
    assert {type(v) for v in valid(root, seeds=40)} == {int, type(None)}
    # OpenAPI's singular "example" is used now and then
    assert "Lyon" in valid({"type": "string", "example": "Lyon"}, seeds=40)


# --- pydantic ----------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Address(pydantic.BaseModel):
    street: str
    city: str
    zip_code: Annotated[str, pydantic.Field(pattern=r"^\d{5}$")]


class Cat(pydantic.BaseModel):
    kind: Literal["cat"]
    lives: int = pydantic.Field(ge=1, le=9)


class Dog(pydantic.BaseModel):
    kind: Literal["dog"]
    good: bool


class Person(pydantic.BaseModel):
    name: str
    age: int = pydantic.Field(ge=0, le=130)
    email: str | None = None
    favorite: Color
    mood: Literal["happy", "sad"] = "happy"
    addresses: list[Address] = pydantic.Field(min_length=1, max_length=3)
    nickname: str | None
    scores: dict[str, float]
    pet: Cat | Dog = pydantic.Field(discriminator="kind")
    price: float = pydantic.Field(gt=0, multiple_of=0.25)
    tags: set[str]
    born: datetime.date
    seen_at: datetime.datetime
    coords: tuple[float, float]
    parent: Person | None = None


def test_pydantic_generated_schema() -> None:
    schema = Person.model_json_schema()
    for value in valid(schema, seeds=40):
        person = Person.model_validate(value)
        assert person.addresses


# --- check_schema ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "path", "message"),
    [
        ({"type": "strnig"}, "type", "invalid schema"),
        ({"type": "object", "properties": 5}, "properties", "not of type 'object'"),
        ({"minimum": "a"}, "minimum", "not of type 'number'"),
        ({"$ref": "#/$defs/missing"}, "", "unresolvable"),
        ({"$ref": "http://x/y"}, "", "unsupported remote"),
        ({"$ref": "#anchor"}, "", "unsupported anchor"),
        (
            {"type": "object", "properties": {"user": {"type": "array", "items": {"type": "strnig"}}}},
            "properties.user.items.type",
            "invalid schema",
        ),
        ({"properties": {"a": {"$ref": "#/$defs/nope"}}}, "properties.a", "unresolvable"),
        ({"items": {"if": {"type": "string"}, "then": {"minLength": 1}}}, "items", "not supported"),
        ({"dependentSchemas": {"a": {"required": ["b"]}}}, "", "not supported"),
        ({"type": "string", "pattern": "(unclosed"}, "pattern", "regex"),
        ({"type": "string", "minLength": 5, "maxLength": 2}, "", "exceeds maxLength"),
        ({"type": "integer", "minimum": 3, "maximum": 2}, "", "empty"),
        (
            {
                "type": "object",
                "properties": {"n": {"type": "integer", "multipleOf": 10, "maximum": 5, "minimum": 1}},
                "required": ["n"],
            },
            "properties.n",
            "multiple",
        ),
        ({"enum": ["a"], "type": "integer"}, "", "enum"),
    ],
)
def test_check_schema_names_the_path(schema: Json, path: str, message: str) -> None:
    with pytest.raises(SchemaError, match=message) as info:
        check_schema(schema)
    assert info.value.path == path


@pytest.mark.parametrize("schema", [5, "string", None, [{"type": "string"}], {"enum": {1}}])
def test_check_schema_rejects_non_schemas(schema: object) -> None:
    with pytest.raises(SchemaError):
        check_schema(schema)


def test_check_schema_accepts_good_schemas() -> None:
    for schema in (TREE, GEMINI, WEATHER_STRICT, Person.model_json_schema(), True, {}):
        check_schema(schema)


# --- untrusted schemas: bounded time, bounded size, writable output ------------------------


def _timed(action: Any) -> float:
    """CPU seconds ``action()`` takes (on a cold cache: every check is done afresh).

    CPU time, not wall time: other processes on a loaded CI machine stretch the wall clock,
    while the runaway growth these bounds guard against shows in the work done.
    """
    api_module.clear_cache()
    start = time.process_time()
    action()
    return time.process_time() - start


def _refused(schema: object, match: str) -> float:
    """CPU seconds ``check_schema`` takes to refuse ``schema`` with a message matching ``match``.

    (``pytest.raises`` is not used: its handling of the error's deep traceback would be timed too.)
    """
    api_module.clear_cache()
    error: SchemaError | None = None
    start = time.process_time()
    try:
        check_schema(schema)
    except SchemaError as exc:
        error = exc
    took = time.process_time() - start
    assert error is not None, "the schema was accepted"
    assert re.search(match, str(error)), error
    return took


def _mutually_recursive(count: int) -> Json:
    """``count`` definitions, each an object whose one required field is any other one, or null."""
    defs = {
        f"D{i}": {
            "type": "object",
            "properties": {
                "x": {"anyOf": [*({"$ref": f"#/$defs/D{j}"} for j in range(count) if j != i), {"type": "null"}]}
            },
            "required": ["x"],
        }
        for i in range(count)
    }
    return {"$defs": defs, "$ref": "#/$defs/D0"}


def test_ref_heights_are_a_fixed_point_not_a_path_search() -> None:
    # Measured before: 0.9 s at 11 definitions, doubling with each one more.
    schema = _mutually_recursive(25)
    took = _timed(lambda: check_schema(schema))
    assert took < 1.0
    # Past max_depth the branch that ends recursion soonest (null, height 0) comes first.
    assert all(v["x"] is None for v in valid(schema, seeds=10, max_depth=1))


CATASTROPHIC = [r"^(a+)+$", r"(a*)*b", r"^(\w+\s?)*$", r"(\d+[,.]?)+$", r"^(\s*,\s*)*$", r"(a|aa)+$", r"a*a*a*$"]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_patterns_are_refused_wherever_they_are(pattern: str) -> None:
    where = [
        ({"type": "string", "pattern": pattern}, "pattern"),
        ({"type": "object", "patternProperties": {pattern: {}}}, "patternProperties"),
        ({"type": "object", "propertyNames": {"pattern": pattern}}, "propertyNames.pattern"),
        ({"$defs": {"X": {"pattern": pattern}}, "items": {"$ref": "#/$defs/X"}}, "$defs.X.pattern"),
    ]
    for schema, path in where:
        with pytest.raises(SchemaError, match="pattern too complex") as info:
            check_schema(schema)
        assert info.value.path == path


def test_pattern_checks_take_no_time_on_hostile_values() -> None:
    # Measured before: 1.6 s for 24 characters, doubling with each one more.
    hostile = {"type": "string", "pattern": "^(a+)+$", "enum": ["a" * 24 + "!"]}
    took = _refused(hostile, "pattern too complex")
    assert took < 0.5
    took = _refused({"type": "string", "pattern": "x" * 1001}, "longer than 1000")
    assert took < 0.5
    # Polynomial patterns are allowed, with the strings matched against them kept short.
    cubic = r"^\S+@\S+\.\S+$"
    took = _refused({"type": "string", "pattern": cubic, "enum": ["a" + "@." * 200 + " ", "a@b.c"]}, "longer")
    assert took < 0.5
    quadratic = {"type": "string", "pattern": r"\w+@", "enum": [f"{'a' * 3000}{i}" for i in range(100)]}
    took = _refused(quadratic, "too long")
    assert took < 0.5
    keys = {"type": "object", "patternProperties": {r"a+a+$": {}}, "properties": {"a" * 1000 + "!": {}}}
    took = _refused(keys, "longer")
    assert took < 0.5
    # A long string elsewhere in such a schema may still be checked against the pattern.
    mixed = {"properties": {"t": {"minLength": 20_000, "not": {"pattern": r"a+a+$"}}}, "required": ["t"]}
    took = _refused(mixed, "minLength")
    assert took < 0.5


@pytest.mark.parametrize(
    "pattern",
    [
        r"^[A-Z]{3}-\d{4}$",
        r"^(\+\d{1,3})?\d{10}$",
        r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$",
        r"^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$",
        r"^\S+@\S+\.\S+$",
        r"^([a-z0-9-]+\.)+[a-z]{2,}$",
        r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
        r"^\d+(\.\d{1,2})?$",
        r"^(?:\d{1,3}\.){3}\d{1,3}$",
        r"^(\\.|[^\"\\])*$",
    ],
)
def test_ordinary_patterns_still_work(pattern: str) -> None:
    for value in valid({"type": "string", "pattern": pattern}):
        assert re.search(pattern, value)
    valid({"type": "object", "patternProperties": {pattern: {"type": "integer"}}, "minProperties": 1}, seeds=5)


def test_pattern_ratings() -> None:
    assert backtracking.rate(r"^[A-Z]{3}-\d{4}$").degree == 0
    assert backtracking.rate(r"^[a-z]+$").degree == 1
    assert backtracking.rate(r"\w+@").degree == 2  # unanchored: every start is tried
    assert backtracking.rate(r"^\w+(\.\w+)*$").degree == 1  # "." separates the iterations
    assert backtracking.rate(r".*x.*y").degree == 3
    assert backtracking.subject_cap(r"^\S+@\S+\.\S+$", 10**5) < 300
    for pattern in CATASTROPHIC:
        with pytest.raises(backtracking.TooComplex):
            backtracking.rate(pattern)


def test_output_size_is_bounded() -> None:
    # Nested repeats widened by minLength grew like its square: 36 s before.
    nested = {"type": "string", "pattern": "^(ab+)+$", "minLength": 8000, "maxLength": 8000}
    took = _timed(lambda: check_schema(nested))
    # About 0.1 s alone; 0.55 s was seen on a loaded 2-core machine. The bound guards
    # against runaway growth, not speed.
    assert took < 1.5
    assert all(len(v) == 8000 for v in valid(nested, seeds=3))
    # A hundred million characters: 11.7 s before; now refused as soon as the budget is gone.
    huge = {"type": "array", "minItems": 1000, "items": {"type": "string", "minLength": 100_000}}
    took = _refused(huge, "larger than 1000000 characters")
    assert took < 0.5
    const = {"type": "array", "minItems": 5000, "items": {"const": {"k": ["x" * 1000] * 100}}}
    took = _refused(const, "larger than")
    assert took < 0.5
    took = _refused({"type": "array", "minItems": 9000, "items": {}}, "minItems")
    assert took < 0.5
    cube = {"type": "array", "items": {"minItems": 50, "items": {"minItems": 50}}, "minItems": 50}
    took = _refused(cube, "more than 10000 values")
    assert took < 0.5


BOUNDED_S = 5.0  # 2.1 s seen with eight agents sharing two cores


def test_work_is_bounded() -> None:
    # Unbounded, each of these takes minutes; bounded, well under a second on an idle machine.
    # The limit leaves room for a loaded 2-core CI box.
    # Twenty anyOf groups of two, all contradicted by "not": a million combinations to try.
    combos = {"allOf": [{"anyOf": [{"type": "integer"}, {"minimum": 0}]}] * 20, "not": {"type": "integer"}}
    took = _refused(combos, "too much work")
    assert took < BOUNDED_S
    # Each definition uses the next one twice: 2^30 subschemas to merge and validate.
    defs: Json = {f"D{i}": {"allOf": [{"$ref": f"#/$defs/D{i + 1}"}] * 2} for i in range(30)}
    took = _refused({"$defs": {**defs, "D30": {"type": "integer"}}, "$ref": "#/$defs/D0"}, "expands")
    assert took < BOUNDED_S
    # uniqueItems over objects: jsonschema compares them pairwise (20 s for 6,000 before).
    item = {
        "type": "object",
        "properties": {"a": {"type": "integer", "minimum": 0, "maximum": 10**9}},
        "required": ["a"],
    }
    unique = {"type": "array", "minItems": 3000, "uniqueItems": True, "items": item}
    took = _timed(lambda: check_schema(unique))
    assert took < BOUNDED_S


def test_generate_never_fails_for_a_checked_schema() -> None:
    # Random(0) happens to find a value; 178 of 200 other seeds used to raise (a 500).
    schema: Json = {
        "type": "object",
        "properties": {"p": {"pattern": "^[a-z]{8}$", "not": {"pattern": "[a-m]"}}},
        "required": ["p"],
    }
    values = valid(schema, seeds=200)
    assert all(re.fullmatch("[n-z]{8}", v["p"]) for v in values)
    assert len({v["p"] for v in values}) > 1  # the successful draws still vary
    values[0]["p"] = "changed"  # a fallback is a copy: the cached trial instance is untouched
    assert generate(schema, random.Random(7))["p"] != "changed"  # type: ignore[index]


def test_numbers_json_can_carry() -> None:
    with pytest.raises(SchemaError, match="64-bit"):
        check_schema({"type": "integer", "minimum": 1e20})
    with pytest.raises(SchemaError, match="no number fits"):
        check_schema({"type": "number", "exclusiveMinimum": 1.7976931348623157e308})
    for value in valid({"type": "integer", "minimum": 2**63 - 3}) + valid({"type": "number", "minimum": 1e300}):
        orjson.dumps(value)
    for data in ({"enum": [1, 10**30]}, {"const": [1e400]}, {"const": "\ud800"}):
        with pytest.raises(SchemaError, match=r"64-bit|JSON"):
            check_schema(data)
    with pytest.raises(SchemaError, match="not JSON"):
        check_schema({"type": "number", "maximum": float("nan")})
    # Unwritable examples are simply not reused.
    assert all(v != 10**30 for v in valid({"type": "integer", "examples": [10**30]}))


def test_property_ordering_must_name_properties() -> None:
    with pytest.raises(SchemaError, match="propertyOrdering") as info:
        check_schema({"type": "object", "properties": {"a": {}}, "propertyOrdering": [["a"]]})
    assert info.value.path == "propertyOrdering"
    with pytest.raises(SchemaError, match="propertyOrdering") as info:
        check_schema({"properties": {"a": {"type": "object", "propertyOrdering": "a"}}})
    assert info.value.path == "properties.a.propertyOrdering"


def test_checks_are_cached_without_annotations_and_with_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []

    def counting_build(key: str) -> Prepared:
        built.append(key)
        return build(key)

    monkeypatch.setattr(api_module, "build", counting_build)
    api_module.clear_cache()
    check_schema({"type": "string", "description": "a name", "title": "Name"})
    check_schema({"type": "string", "description": "another description", "$comment": "x"})
    assert len(built) == 1
    # ...but only string annotations of subschemas: a property called "title" is kept
    check_schema({"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]})
    assert len(built) == 2
    assert "title" in generate({"type": "object", "properties": {"title": {}}, "required": ["title"]}, random.Random(0))  # type: ignore[operator]
    bad = {"type": "string", "minLength": 3, "maxLength": 1}
    for _ in range(3):
        with pytest.raises(SchemaError, match="exceeds maxLength"):
            check_schema(bad)
    assert len(built) == 4  # the failure was cached too


def test_the_cache_is_bounded() -> None:
    lru: LRU[int] = LRU(entries=3, size=100)
    for i in range(5):
        lru.put(f"k{i}", i, 1)
    assert len(lru) == 3 and lru.get("k0") is None and lru.get("k4") == 4
    lru.put("big", 0, 95)  # 98 of 100 bytes: the others go
    assert len(lru) == 1
    lru.put("huge", 0, 1000)  # larger than the whole cache: not kept
    assert lru.get("huge") is None and lru.get("big") == 0


def test_validation_runs_where_construction_is_not_exact() -> None:
    # Two float multipleOfs merge into their least common multiple, which jsonschema's
    # float division may not accept: such values are validated, and retried if need be.
    for value in valid({"allOf": [{"multipleOf": 0.1}, {"multipleOf": 0.3}], "type": "number", "maximum": 50}):
        assert value <= 50
    valid({"type": "object", "properties": {"a": {}}, "unevaluatedProperties": False})


# --- property-based: random schemas from the supported constructs ---------------------------

_NAMES = ["name", "age", "city", "email", "id", "price", "tags", "data", "value", "x", "when", "note"]
_PATTERNS = [r"^[a-z]{2,5}$", r"^\d{3}-\d{2}$", r"^(red|green|blue)$", r"[A-Z]", r"^[a-f0-9]{8}$", r"^v\d+(\.\d+)?$"]
_FORMATS = ["date-time", "date", "time", "email", "uri", "uuid", "ipv4", "hostname"]


@st.composite
def _integer(draw: st.DrawFn) -> Json:
    out: Json = {"type": "integer"}
    low = draw(st.none() | st.integers(-50, 50))
    span = draw(st.integers(0, 60))
    if low is not None:
        out[draw(st.sampled_from(["minimum", "exclusiveMinimum"]))] = low
    if draw(st.booleans()):
        high = (low if low is not None else 0) + span + 2
        out[draw(st.sampled_from(["maximum", "exclusiveMaximum"]))] = high
    if draw(st.booleans()):
        out["multipleOf"] = draw(st.sampled_from([1, 2, 3, 0.5]))
        if "maximum" in out or "exclusiveMaximum" in out:
            out.pop("maximum", None)
            out.pop("exclusiveMaximum", None)
    return out


@st.composite
def _number(draw: st.DrawFn) -> Json:
    out: Json = {"type": "number"}
    low = draw(st.none() | st.floats(-100, 100, allow_nan=False).map(lambda f: round(f, 2)))
    if low is not None:
        out[draw(st.sampled_from(["minimum", "exclusiveMinimum"]))] = low
    if draw(st.booleans()):
        out[draw(st.sampled_from(["maximum", "exclusiveMaximum"]))] = (low or 0) + draw(st.integers(1, 100))
    if draw(st.booleans()):
        out["multipleOf"] = draw(st.sampled_from([0.5, 0.25, 0.1, 0.01, 5]))
        out.pop("maximum", None)  # a narrow range may hold no multiple
        out.pop("exclusiveMaximum", None)
    return out


@st.composite
def _string(draw: st.DrawFn) -> Json:
    out: Json = {"type": "string"}
    choice = draw(st.sampled_from(["plain", "length", "format", "pattern", "enum", "const"]))
    if choice == "length":
        low = draw(st.integers(0, 20))
        out["minLength"] = low
        if draw(st.booleans()):
            out["maxLength"] = low + draw(st.integers(0, 10))
    elif choice == "format":
        out["format"] = draw(st.sampled_from(_FORMATS))
    elif choice == "pattern":
        out["pattern"] = draw(st.sampled_from(_PATTERNS))
    elif choice == "enum":
        out["enum"] = draw(st.lists(st.text(max_size=5), min_size=1, max_size=4, unique=True))
    elif choice == "const":
        out["const"] = draw(st.text(max_size=5))
    return out


_SCALARS = st.one_of(
    _integer(),
    _number(),
    _string(),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.just({}),
    _string().map(lambda s: {**s, "type": ["string", "null"]}),
)
_REF = {"$ref": "#/$defs/Shared"}


def _schemas(depth: int) -> st.SearchStrategy[Json]:
    if depth == 0:
        return _SCALARS
    inner = _schemas(depth - 1)
    return st.one_of(
        _SCALARS,
        _objects(inner),
        _arrays(inner),
        st.lists(inner, min_size=1, max_size=3).map(lambda bs: {"anyOf": bs}),
        _one_of(),
        st.just(_REF),
    )


@st.composite
def _objects(draw: st.DrawFn, inner: st.SearchStrategy[Json]) -> Json:
    props = draw(st.dictionaries(st.sampled_from(_NAMES), inner, max_size=4))
    out: Json = {"type": "object", "properties": props}
    if props:
        out["required"] = draw(st.lists(st.sampled_from(sorted(props)), unique=True))
    extra = draw(st.sampled_from(["absent", "false", "schema"]))
    if extra == "false":
        out["additionalProperties"] = False
        if draw(st.booleans()):
            out["minProperties"] = draw(st.integers(0, len(props)))
    elif extra == "schema":
        out["additionalProperties"] = draw(_SCALARS)
    if draw(st.booleans()):
        out["propertyOrdering"] = draw(st.permutations(sorted(props)))
    return out


@st.composite
def _arrays(draw: st.DrawFn, inner: st.SearchStrategy[Json]) -> Json:
    out: Json = {"type": "array", "items": draw(inner)}
    low = draw(st.integers(0, 3))
    if draw(st.booleans()):
        out["minItems"] = low
    if draw(st.booleans()):
        out["maxItems"] = low + draw(st.integers(0, 3))
    if draw(st.booleans()):
        out["uniqueItems"] = True
        out.pop("minItems", None)  # distinct values of a narrow item schema may run out
    if draw(st.booleans()):
        out["prefixItems"] = draw(st.lists(_SCALARS, min_size=1, max_size=2))
    return out


@st.composite
def _one_of(draw: st.DrawFn) -> Json:
    # Branches of distinct types never overlap, so "exactly one" is always satisfiable.
    kinds = draw(st.lists(st.sampled_from(["string", "integer", "boolean", "null", "array"]), min_size=1, unique=True))
    makers = {"string": _string(), "integer": _integer(), "boolean": st.just({"type": "boolean"})}
    branches = [
        draw(makers[k]) if k in makers else {"type": k} if k == "null" else {"type": "array", "maxItems": 2}
        for k in kinds
    ]
    return {"oneOf": branches}


@st.composite
def _documents(draw: st.DrawFn) -> Json:
    root = draw(_schemas(3))
    shared = draw(_schemas(1).filter(lambda s: s != _REF))
    return {**root, "$defs": {"Shared": shared}}


@settings(max_examples=300, deadline=None, database=None)
@given(_documents())
def test_random_schemas_always_validate(schema: Json) -> None:
    check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for seed in range(3):
        value = generate(schema, random.Random(seed))
        validator.validate(value)
        assert json.loads(json.dumps(value)) == value
        assert generate(schema, random.Random(seed)) == value


# --- answers that read like a model's (issue 16, item 2a) ---


def test_an_object_of_optional_properties_is_never_empty() -> None:
    # The issue's case: one optional array (instructor's create_iterable wraps its model so).
    one_array = {"type": "object", "properties": {"tasks": {"type": "array", "items": {"type": "string"}}}}
    for value in valid(one_array, seeds=200):
        assert value["tasks"], value  # present and non-empty
    several = {"type": "object", "properties": {k: {"type": "string"} for k in ("a", "b", "c")}}
    assert all(valid(several, seeds=200))


def test_optional_properties_are_mostly_filled_and_fit_their_names() -> None:
    person = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "email": {"type": "string"},
            "website": {"type": "string"},
            "age": {"type": "integer", "minimum": 0, "maximum": 130},
            "created_at": {"type": "string"},
        },
    }
    values = valid(person, seeds=100)
    filled = sum(len(v) for v in values)
    assert filled >= 0.8 * 5 * 100
    for v in values:
        assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", v.get("email", "a@b.io"))
        assert v.get("website", "https://x").startswith("http")
        assert 18 <= v.get("age", 30) <= 80
        assert re.match(r"\d{4}-\d{2}-\d{2}", v.get("created_at", "2024-01-01"))
        assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", v.get("name", "Ada Lovelace"))


def test_name_hints_yield_to_the_schema() -> None:
    # A hint that breaks a constraint is dropped for a generic valid value.
    schema = {
        "type": "object",
        "properties": {
            "email": {"type": "string", "maxLength": 3},
            "age": {"type": "integer", "minimum": 200, "maximum": 210},
            "url": {"type": "string", "pattern": "^ftp://[a-z]+$"},
            "name": {"enum": ["x", "y"]},
        },
        "required": ["email", "age", "url", "name"],
    }
    for value in valid(schema, seeds=50):
        assert len(value["email"]) <= 3 and 200 <= value["age"] <= 210 and value["url"].startswith("ftp://")


def test_filling_optional_properties_keeps_seeds_reproducible() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "array", "items": {}}}}
    assert valid(schema, seeds=30) == valid(schema, seeds=30)
    deep = {"type": "object", "properties": {"child": {"$ref": "#"}}}  # recursion still ends
    for value in valid(deep, seeds=30):
        node, depth = value, 0
        while node:
            node, depth = node["child"], depth + 1
        assert depth <= 7
