"""Benchmark: how model-like generated instances are, on a fixed set of schemas and seeds.

For each schema, ``--seeds`` instances are drawn (``random.Random(seed)``, seeds 0..N-1)
and counted: empty objects (``{}`` where the schema has properties), empty arrays, optional
properties filled (share of the optional properties offered), and strings that fit their
property's name (email, url, date, name...). Every instance is validated against its schema.

Usage::

    python bench/schema_answers.py            # 200 seeds per schema
    python bench/schema_answers.py --seeds 20 --json
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from typing import Any

import jsonschema
import orjson

from llm_simulator.engine.schema import generate

_OPTIONAL_ARRAY = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "string"}}}}
# instructor's create_iterable wraps the model in {"tasks": [...]}, an optional-looking array.
_ITERABLE = {
    "type": "object",
    "properties": {
        "tasks": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                "required": ["name", "age"],
            },
        }
    },
}
_ALL_OPTIONAL = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "email": {"type": "string"},
        "website": {"type": "string"},
        "age": {"type": "integer", "minimum": 0, "maximum": 130},
        "created_at": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}
_PYDANTIC_OPTIONAL = {
    "type": "object",
    "properties": {
        "title": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "summary": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "keywords": {"type": "array", "items": {"type": "string"}},
    },
}
_NESTED = {
    "type": "object",
    "properties": {
        "customer": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "email": {"type": "string", "format": "email"}},
        },
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"product": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}},
                "required": ["product"],
            },
        },
        "date": {"type": "string", "format": "date"},
    },
    "required": ["customer"],
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "one optional array": _OPTIONAL_ARRAY,
    "create_iterable tasks": _ITERABLE,
    "six optional fields": _ALL_OPTIONAL,
    "pydantic Optional[...]": _PYDANTIC_OPTIONAL,
    "nested order": _NESTED,
}

_FITS = {
    "email": re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]+$"),
    "website": re.compile(r"^https?://"),
    "created_at": re.compile(r"^\d{4}-\d{2}-\d{2}"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "name": re.compile(r"^[A-Z][a-z]+ [A-Z][a-z]+$"),
}


def _walk(value: Any, schema: Any, stats: dict[str, int], name: str | None = None) -> None:
    if isinstance(value, dict) and isinstance(schema, dict):
        props = schema.get("properties", {})
        optional = [k for k in props if k not in schema.get("required", ())]
        stats["objects"] += 1
        stats["empty_objects"] += not value and bool(props)
        stats["optional_offered"] += len(optional)
        stats["optional_filled"] += sum(k in value for k in optional)
        for key, item in value.items():
            _walk(item, props.get(key, {}), stats, key)
    elif isinstance(value, list):
        stats["arrays"] += 1
        stats["empty_arrays"] += not value
        for item in value:
            _walk(item, schema.get("items", {}) if isinstance(schema, dict) else {}, stats)
    elif value is None:
        stats["nulls"] += 1
    elif isinstance(value, str) and name in _FITS:
        stats["named_strings"] += 1
        stats["named_fit"] += bool(_FITS[name].search(value))


def measure(seeds: int) -> dict[str, dict[str, int]]:
    """Per schema: counts over ``seeds`` draws (every instance validated)."""
    out: dict[str, dict[str, int]] = {}
    for label, schema in SCHEMAS.items():
        stats = dict.fromkeys(
            ("draws", "empty_root", "objects", "empty_objects", "arrays", "empty_arrays", "nulls"), 0
        ) | dict.fromkeys(("optional_offered", "optional_filled", "named_strings", "named_fit"), 0)
        for seed in range(seeds):
            value = generate(schema, random.Random(seed))
            jsonschema.validate(value, schema)
            stats["draws"] += 1
            stats["empty_root"] += value == {}
            _walk(value, schema, stats)
        out[label] = stats
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print the raw counts as JSON")
    args = parser.parse_args()
    results = measure(args.seeds)
    if args.json:
        sys.stdout.write(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(f"{'schema':26} {'{} root':>8} {'empty []':>9} {'optional filled':>16} {'nulls':>6} {'name fits':>10}")
    for label, s in results.items():
        filled = f"{s['optional_filled']}/{s['optional_offered']}"
        fits = f"{s['named_fit']}/{s['named_strings']}" if s["named_strings"] else "-"
        empty_arrays = f"{s['empty_arrays']}/{s['arrays']}"
        print(f"{label:26} {s['empty_root']:>8} {empty_arrays:>9} {filled:>16} {s['nulls']:>6} {fits:>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
