"""Read fixtures documents (YAML or JSON) into a validated ``FixtureSet``.

Every problem is reported with where it is: the source, the rule or scenario (index and
name), the step, and the key, e.g. ``rules.yaml: rules[2] ('slow'): respond.delay_ms: …``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from llm_simulator.engine.script.model import FixtureSet


class FixtureError(ValueError):
    """A fixtures document is invalid; the message names the rule or scenario and the key."""


def parse_fixtures(text: str | bytes, source: str = "fixtures") -> FixtureSet:
    """Parse a YAML or JSON document (JSON is tried first when it looks like JSON)."""
    raw = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
    data: Any
    if raw.lstrip().startswith("{") or source.endswith(".json"):
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if source.endswith(".json"):
                raise FixtureError(f"{source}: not valid JSON: {exc}") from None
            data = _yaml(raw, source)  # YAML flow style also starts with "{"
    else:
        data = _yaml(raw, source)
    return fixtures_from_data(data, source)


def _yaml(raw: str, source: str) -> Any:
    # Imported here: a server without fixture files never parses YAML (start-up time).
    import yaml

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise FixtureError(f"{source}: not valid YAML: {exc}") from None


def fixtures_from_data(data: Any, source: str = "fixtures") -> FixtureSet:
    """Validate already-decoded data (a mapping with ``rules`` and/or ``scenarios``)."""
    if data is None:
        return FixtureSet()
    if not isinstance(data, dict):
        raise FixtureError(f"{source}: the top level must be a mapping with 'rules' and/or 'scenarios'")
    try:
        return FixtureSet.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: invalid fixtures:"]
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key"
            lines.append(f"  {describe_location(data, err['loc'])}: {message}")
        raise FixtureError("\n".join(lines)) from None


def load_fixture_file(path: Path) -> FixtureSet:
    """Read and validate one fixtures file (``.json`` is JSON; anything else YAML)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FixtureError(f"cannot read fixtures file {path}: {exc.strerror or exc}") from None
    return parse_fixtures(text, str(path))


def _name_of(items: Any, index: Any) -> str:
    if isinstance(items, list) and isinstance(index, int) and 0 <= index < len(items):
        item = items[index]
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            return f" ({item['name']!r})"
    return ""


def describe_location(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """``rules[2] ('slow'): respond.delay_ms`` for a pydantic error location in ``data``."""
    # Union branches and validator names ("dict[str,any]", "function-after[…]") are noise.
    parts = [p for p in loc if isinstance(p, int) or ("[" not in p and p not in ("str", "int", "float", "bool"))]
    if len(parts) >= 2 and parts[0] in ("rules", "scenarios") and isinstance(parts[1], int):
        kind, index = str(parts[0]), parts[1]
        items = data.get(kind)
        head = f"{kind}[{index}]{_name_of(items, index)}"
        rest = parts[2:]
        if kind == "scenarios" and len(rest) >= 2 and rest[0] == "steps" and isinstance(rest[1], int):
            scenario = items[index] if isinstance(items, list) else None
            steps = scenario.get("steps") if isinstance(scenario, dict) else None
            head += f" steps[{rest[1]}]{_name_of(steps, rest[1])}"
            rest = rest[2:]
        return head + (": " + _dotted(rest) if rest else "")
    return _dotted(parts) or "<root>"


def _dotted(parts: list[int | str]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
