"""The public entry points: ``check_schema`` and ``generate``."""

from __future__ import annotations

import random

import jsonschema.exceptions

from llm_simulator.engine.schema.errors import Infeasible, SchemaError, format_path
from llm_simulator.engine.schema.generate import Generator
from llm_simulator.engine.schema.prepare import prepare

ROOT_ATTEMPTS = 4
"""Whole-instance retries when a draw hits a dead end or fails the final validation."""


def check_schema(schema: object) -> None:
    """Raise ``SchemaError`` unless ``generate`` can produce instances of ``schema``.

    Checks, in order: that ``schema`` is an object or a boolean; the JSON Schema 2020-12
    metaschema (after normalising the OpenAPI/Gemini dialect); that every ``$ref`` is local
    and resolves; that no unsupported keyword (``if``, ``dependentSchemas``,
    ``$dynamicRef``) is used; and finally one trial generation, which catches contradictions
    such as ``minLength`` above ``maxLength`` or a required property forbidden by
    ``additionalProperties: false``. The error's ``path`` names the offending subschema.
    """
    prepared = prepare(schema)
    if not prepared.trial_passed:
        generate(schema, random.Random(0))
        prepared.trial_passed = True


def generate(schema: object, rng: random.Random, *, name: str | None = None, max_depth: int = 6) -> object:
    """An instance valid against ``schema``, drawn deterministically from ``rng``.

    ``name`` is the name of the value being filled (a tool argument, a response field) and
    makes strings and numbers plausible for it. Containers nested deeper than ``max_depth``
    are kept minimal: only required properties, ``minItems`` items, and the ``anyOf``/type
    branch that ends recursion soonest. The result holds only dicts, lists, str, int, float,
    bool and None, and is validated against the schema before it is returned. Raises
    ``SchemaError`` for invalid or unsupported schemas and for schemas that no instance
    satisfies (as far as the generator can tell).
    """
    if max_depth < 0:
        raise ValueError("max_depth must be >= 0")
    prepared = prepare(schema)
    failure = SchemaError("no valid instance could be generated")
    for _ in range(ROOT_ATTEMPTS):
        generator = Generator(prepared, rng, max_depth)
        try:
            value = generator.value(prepared.root, 0, name, "")
        except Infeasible as exc:
            failure = exc.to_schema_error()
            continue
        except RecursionError:
            raise SchemaError(f"the schema nests too deeply to generate with max_depth={max_depth}") from None
        error = jsonschema.exceptions.best_match(prepared.validator.iter_errors(value))
        if error is None:
            return value
        # A generator shortfall (e.g. a contradiction spread across allOf parts) surfaces here.
        where = format_path(error.absolute_schema_path)
        failure = SchemaError(f"could not generate a valid instance: {error.message}", where)
    raise failure
