"""The public entry points: ``check_schema`` and ``generate``."""

from __future__ import annotations

import random
from typing import Any

import orjson

from llm_simulator.engine.schema import budget as request_work
from llm_simulator.engine.schema.cache import LRU
from llm_simulator.engine.schema.errors import Infeasible, SchemaError, format_path
from llm_simulator.engine.schema.generate import WORK_BUDGET, Budget, Generator
from llm_simulator.engine.schema.prepare import Prepared, build, cache_key


def best_match(errors: Any) -> Any:
    """The most relevant of jsonschema's ``errors`` (None for none); jsonschema is loaded by then."""
    import jsonschema.exceptions

    return jsonschema.exceptions.best_match(errors)


ROOT_ATTEMPTS = 4
"""Whole-instance retries when a draw hits a dead end or fails the final validation."""
TRIAL_DEPTH = 6
"""``max_depth`` of the trial generation (``generate``'s default)."""

# Tool and output schemas come back on every request of a conversation; checking one costs up
# to tens of milliseconds (metaschema, trial generation). Failures are kept as well: a client
# retrying a bad schema gets the same 400 without the work. Entries: a checked schema, or the
# (reason, path) of its SchemaError.
_CACHE: LRU[Prepared | tuple[str, str]] = LRU(entries=2048, size=256 * 2**20)


def check_schema(schema: object) -> None:
    """Raise ``SchemaError`` unless ``generate`` can produce instances of ``schema``.

    Checks, in order: that ``schema`` is an object or a boolean; the JSON Schema 2020-12
    metaschema (after normalising the OpenAPI/Gemini dialect); that every ``$ref`` is local
    and resolves; that no unsupported keyword (``if``, ``dependentSchemas``,
    ``$dynamicRef``) is used; limits that keep generation fast (pattern complexity, the
    lengths of strings matched against patterns, ``$ref`` expansion, JSON-safe data); and
    finally one trial generation, which catches contradictions such as ``minLength`` above
    ``maxLength``, a required property forbidden by ``additionalProperties: false``, or an
    instance too large to produce. The error's ``path`` names the offending subschema.
    Results are cached (by the schema with ``title``/``description``/``$comment`` left out).
    """
    _checked(schema)


def generate(schema: object, rng: random.Random, *, name: str | None = None, max_depth: int = 6) -> object:
    """An instance valid against ``schema``, drawn deterministically from ``rng``.

    ``name`` is the name of the value being filled (a tool argument, a response field) and
    makes strings and numbers plausible for it. Containers nested deeper than ``max_depth``
    are kept minimal: only required properties, ``minItems`` items, and the ``anyOf``/type
    branch that ends recursion soonest. The result holds only dicts, lists, str, int, float,
    bool and None, is validated against the schema and can be written by ``orjson``.

    Raises ``SchemaError`` exactly when ``check_schema`` does. For a schema it accepts, a draw
    that fails for this ``rng`` (a dead end the retries did not get around, a budget run out)
    returns a copy of the instance ``check_schema``'s trial generated instead.
    """
    if max_depth < 0:
        raise ValueError("max_depth must be >= 0")
    prepared = _checked(schema)
    try:
        return _draw(prepared, rng, name, max_depth, meter=request_work.current())[0]
    except Exception:  # any failure of a seeded draw (a request budget run out too): the checked instance
        assert prepared.trial is not None
        return orjson.loads(prepared.trial)


def clear_cache() -> None:
    """Forget every checked schema (for tests: the cache never changes results)."""
    _CACHE.clear()


def _checked(schema: object) -> Prepared:
    key = cache_key(schema)
    entry = _CACHE.get(key)
    if entry is None:
        meter = request_work.current()
        if meter is not None:
            meter.charge(request_work.check_units(key))
        entry = _check(key, meter)
        weight = 16 * len(key) + (len(entry.trial or b"") if isinstance(entry, Prepared) else 0)
        _CACHE.put(key, entry, weight)
    if isinstance(entry, Prepared):
        return entry
    raise SchemaError(*entry)  # a fresh error each time: a re-raised one would grow its traceback


def _check(key: str, meter: request_work.RequestBudget | None) -> Prepared | tuple[str, str]:
    """The checked schema for ``key`` with its trial instance, or the error that refused it.

    Running out of the request's budget (``meter``) is raised, not returned: it says nothing
    about the schema, so it must not be cached.
    """
    try:
        prepared = build(key)
        prepared.trial = _draw(prepared, random.Random(0), None, TRIAL_DEPTH, validate=True, meter=meter)[1]
    except _RequestBudgetGone:
        assert meter is not None
        meter.exhausted()
        raise AssertionError("unreachable") from None
    except SchemaError as exc:
        return (exc.reason, exc.path)
    except RecursionError:
        return ("the schema is nested too deeply", "")
    except Exception as exc:  # a generator bug: refuse the schema (a 400) rather than fail later
        return (f"the schema could not be checked ({type(exc).__name__}: {exc})", "")
    return prepared


class _RequestBudgetGone(Exception):
    """A draw stopped by the request's budget rather than its own (``_draw`` → ``_check``)."""


def _draw(
    prepared: Prepared,
    rng: random.Random,
    name: str | None,
    max_depth: int,
    *,
    validate: bool = False,
    meter: request_work.RequestBudget | None = None,
) -> tuple[object, bytes]:
    """A valid instance and its JSON, or ``SchemaError`` after ``ROOT_ATTEMPTS`` tries.

    The instance is validated against the whole schema when ``validate`` is set (the trial
    always is) or when the generator could not guarantee it by construction. Skipping the
    validation otherwise saves about a third of a call. With a request budget (``meter``),
    the draw may spend no more than is left of it, and what it spends is charged to it;
    ``_RequestBudgetGone`` (or ``OffLoopNeeded``, inline) says that the request's budget, not
    the draw's, ran out.
    """
    if meter is None:
        return _attempts(prepared, rng, name, max_depth, validate, Budget())
    allowed = min(WORK_BUDGET, max(meter.work, 0))
    budget = Budget(work=allowed)
    try:
        return _attempts(prepared, rng, name, max_depth, validate, budget)
    except SchemaError:
        if budget.work < 0 and allowed < WORK_BUDGET:
            if meter.inline:
                # Cut short here, the draw would differ from the same request's off the loop.
                raise request_work.OffLoopNeeded from None
            raise _RequestBudgetGone from None
        raise
    finally:
        meter.work -= allowed - budget.work


def _attempts(
    prepared: Prepared, rng: random.Random, name: str | None, max_depth: int, validate: bool, budget: Budget
) -> tuple[object, bytes]:
    """``_draw``'s tries, spending from ``budget``."""
    failure = SchemaError("no valid instance could be generated")
    for _ in range(ROOT_ATTEMPTS):
        generator = Generator(prepared, rng, max_depth, budget)
        try:
            value = generator.value(prepared.root, 0, name, "")
        except Infeasible as exc:
            failure = exc.to_schema_error()
            continue
        except RecursionError:
            raise SchemaError(f"the schema nests too deeply to generate with max_depth={max_depth}") from None
        checked = validate or not generator.exact
        if checked:  # the validation matches every string against its patterns once more
            generator.spend(prepared.limits.units(value), "")
        error = best_match(prepared.validator.iter_errors(value)) if checked else None
        if error is not None:
            # A generator shortfall (e.g. a contradiction spread across allOf parts) surfaces here.
            failure = SchemaError(
                f"could not generate a valid instance: {error.message}", format_path(error.absolute_schema_path)
            )
            continue
        try:
            return value, orjson.dumps(value)
        except orjson.JSONEncodeError as exc:  # e.g. a lone surrogate drawn from a pattern's class
            failure = SchemaError(f"the generated instance cannot be written as JSON: {exc}")
    raise failure
