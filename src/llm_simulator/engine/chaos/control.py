"""The per-request control value: force an error, a fault, latency or a preset on one request.

Format: ``key=value`` pairs separated by ``;`` — for example
``error=rate_limit; retry_after=0.05``, ``fault=disconnect; after=5``, ``latency=4``, ``misbehave=refusal``,
``preset=full_outage``. The pairs build an ordinary ``ChaosRule`` (probability 1 unless
given), validated like a rule in a config file, so a typo is a clear 400, never ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from llm_simulator.config.chaos import PRESET_NAMES, ChaosRule
from llm_simulator.core.errors import invalid
from llm_simulator.engine.chaos.presets import preset_rules

# Control key → ChaosRule field (a tuple: a field of the rule's stream_fault).
_RULE_KEYS: dict[str, str | tuple[str, str]] = {
    "error": "error_type",
    "status": "status_code",
    "message": "message",
    "delay_ms": "delay_ms",
    "retry_after": "retry_after_s",
    "latency": "latency_multiplier",
    "probability": "probability",
    "fault": ("stream_fault", "type"),
    "after": ("stream_fault", "after_tokens"),
    "duration_ms": ("stream_fault", "duration_ms"),
    "fault_error": ("stream_fault", "error_type"),
    "misbehave": "misbehave",
}
KNOWN_KEYS = (*_RULE_KEYS, "preset")


def parse_control(value: str, header: str) -> tuple[ChaosRule, ...]:
    """The rules a control value forces; a 400 naming ``header`` when it is malformed."""
    pairs: dict[str, str] = {}
    for raw_item in value.split(";"):
        item = raw_item.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise invalid(f"{header}: expected key=value pairs separated by ';', got {item!r}.", param=header)
        if key not in KNOWN_KEYS:
            raise invalid(f"{header}: unknown key {key!r} (known: {', '.join(KNOWN_KEYS)}).", param=header)
        pairs[key] = raw.strip()
    if not pairs:
        raise invalid(f"{header}: the value is empty.", param=header)
    preset = pairs.pop("preset", None)
    if preset is not None:
        if pairs:
            raise invalid(f"{header}: preset cannot be combined with other keys.", param=header)
        if preset not in PRESET_NAMES:
            raise invalid(f"{header}: unknown preset {preset!r} (known: {', '.join(PRESET_NAMES)}).", param=header)
        return preset_rules(preset)
    fields: dict[str, Any] = {"name": "control_header"}
    for key, raw in pairs.items():
        target = _RULE_KEYS[key]
        if isinstance(target, tuple):
            fields.setdefault(target[0], {})[target[1]] = raw
        else:
            fields[target] = raw
    if "stream_fault" in fields and "type" not in fields["stream_fault"]:
        raise invalid(f"{header}: after/duration_ms/fault_error need fault=<type>.", param=header)
    try:
        return (ChaosRule.model_validate(fields),)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors())
        raise invalid(f"{header}: {problems}.", param=header) from None
