"""Parsing the bodies of ``/api/chat`` and ``/api/generate`` into neutral requests.

Ollama decodes bodies with Go's ``encoding/json``: a value of the wrong type is refused
with Go's wording (``json: cannot unmarshal string into Go struct field
ChatRequest.stream of type bool``), which these checks reproduce. ``options`` is a free
map whose known keys must have the right kind of value; unknown keys are ignored, as
Ollama only logs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llm_simulator.core.errors import invalid
from llm_simulator.core.types import (
    AUTO_TOOL_CHOICE,
    TEXT_OUTPUT,
    OutputFormat,
    OutputKind,
    ToolChoice,
    ToolChoiceMode,
    ToolSpec,
)
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.schema import SchemaError, check_schema
from llm_simulator.providers.ollama.common import keep_alive_seconds, registry_name
from llm_simulator.providers.validation import JsonObject

# Ollama's default context length when a request sets no ``num_ctx``.
DEFAULT_NUM_CTX = 4096
# Hidden-then-shown thinking budget per ``think`` level (``true`` is medium).
THINK_BUDGETS = {"low": 256, "medium": 1024, "high": 4096}
NO_TOOLS = ToolChoice(ToolChoiceMode.NONE)

_GO_TYPES = {bool: "bool", int: "number", float: "number", str: "string", list: "array", dict: "object"}


def _json_kind(value: Any) -> str:
    """The JSON kind of ``value`` as Go's decoder names it in its errors."""
    if value is None:
        return "null"
    return _GO_TYPES.get(type(value), "value")


def unmarshal_error(value: Any, field: str, go_type: str) -> Exception:
    """Go's decoding error: ``json: cannot unmarshal <kind> into Go struct field <field> of type <type>``."""
    return invalid(
        f"json: cannot unmarshal {_json_kind(value)} into Go struct field {field} of type {go_type}",
        param=field.split(".", 1)[-1],
    )


def get_string(body: JsonObject, key: str, struct: str) -> str | None:
    """``body[key]`` as a string (None when absent or null)."""
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise unmarshal_error(value, f"{struct}.{key}", "string")
    return value


def get_flag(body: JsonObject, key: str, struct: str, default: bool) -> bool:
    """``body[key]`` as a boolean (``default`` when absent or null)."""
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise unmarshal_error(value, f"{struct}.{key}", "bool")
    return value


@dataclass(frozen=True, slots=True)
class Options:
    """The ``options`` the simulation honours (the others are accepted and ignored)."""

    num_predict: int | None = None  # None: until the model stops or the context is full
    num_ctx: int | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()


_INT_OPTIONS = frozenset(
    {
        "num_predict",
        "num_ctx",
        "seed",
        "top_k",
        "num_keep",
        "repeat_last_n",
        "mirostat",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "num_thread",
    }
)
_FLOAT_OPTIONS = frozenset(
    {
        "temperature",
        "top_p",
        "min_p",
        "typical_p",
        "repeat_penalty",
        "presence_penalty",
        "frequency_penalty",
        "mirostat_tau",
        "mirostat_eta",
        "tfs_z",
    }
)
_BOOL_OPTIONS = frozenset(
    ("numa", "low_vram", "use_mmap", "use_mlock", "penalize_newline", "vocab_only", "embedding_only")
)


def _option_error(key: str, kind: str) -> Exception:
    return invalid(f"option {key!r} must be of type {kind}", param=f"options.{key}")


def _check_option(key: str, value: Any) -> None:
    """Refuse a known option whose value has the wrong kind (a whole float is a valid integer, as in Go)."""
    if value is None:
        return
    if key in _INT_OPTIONS:
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not whole:
            raise _option_error(key, "integer")
    elif key in _FLOAT_OPTIONS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _option_error(key, "float")
    elif key in _BOOL_OPTIONS:
        if not isinstance(value, bool):
            raise _option_error(key, "boolean")
    elif key == "stop" and (not isinstance(value, list) or not all(isinstance(s, str) for s in value)):
        raise _option_error(key, "array of strings")


def parse_options(body: JsonObject, struct: str) -> Options:
    """``options``: known keys type-checked; what the simulation uses kept."""
    raw = body.get("options")
    if raw is None:
        return Options()
    if not isinstance(raw, dict):
        raise unmarshal_error(raw, f"{struct}.options", "map[string]interface {}")
    for key, value in raw.items():
        _check_option(key, value)
    predict = raw.get("num_predict")
    num_ctx = raw.get("num_ctx")
    if num_ctx is not None and int(num_ctx) < 1:
        raise invalid("option 'num_ctx' must be at least 1", param="options.num_ctx")
    seed = raw.get("seed")
    return Options(
        # -1 (the default) and -2 (fill the context) and 0 set no limit of their own.
        num_predict=int(predict) if predict is not None and int(predict) > 0 else None,
        num_ctx=int(num_ctx) if num_ctx is not None else None,
        seed=int(seed) if seed is not None else None,
        stop=tuple(raw.get("stop") or ()),
    )


def context_limits(spec: ModelSpec, options: Options, prompt_tokens: int) -> tuple[int, int]:
    """(prompt tokens evaluated, most tokens to generate) within the request's context length.

    Ollama keeps ``num_ctx`` tokens (4096 unless set, at most the model's own window): a longer
    prompt is truncated to fit, and generation stops (``done_reason: "length"``) when the
    context is full or ``num_predict`` is reached.
    """
    window = min(options.num_ctx or DEFAULT_NUM_CTX, spec.context_window)
    evaluated = min(prompt_tokens, max(1, window - 1))
    room = max(1, window - evaluated)
    limit = min(options.num_predict, room) if options.num_predict is not None else room
    return evaluated, limit


def parse_format(body: JsonObject) -> OutputFormat:
    """``format``: ``"json"`` (any JSON object) or a JSON Schema (structured outputs); empty means text."""
    raw = body.get("format")
    if raw is None or raw == "":
        return TEXT_OUTPUT
    if raw == "json":
        return OutputFormat(OutputKind.JSON_OBJECT)
    if isinstance(raw, dict):
        try:
            check_schema(raw)
        except SchemaError as exc:
            raise invalid(f"invalid JSON schema in format: {exc}", param="format") from None
        return OutputFormat(OutputKind.JSON_SCHEMA, raw, "format")
    raise invalid(f'invalid format: {raw!r}; expected "json" or a valid JSON schema', param="format")


def parse_think(body: JsonObject, name: str, spec: ModelSpec) -> int:
    """The thinking budget ``think`` asks for (``true`` or a level); 0 without thinking.

    A model without thinking refuses ``think: true`` (and a level) with Ollama's 400; ``false``
    is accepted by every model. Left out, a model that can think thinks (Ollama's server
    sets ``think`` for a model with the thinking capability when the request does not).
    """
    raw = body.get("think")
    if raw is False:
        return 0
    if raw is None:
        return THINK_BUDGETS["medium"] if "reasoning" in spec.capabilities else 0
    if raw is True:
        level = "medium"
    elif isinstance(raw, str) and raw in THINK_BUDGETS:
        level = raw
    else:
        raise invalid(f'invalid think value: {raw!r} (must be a boolean or "low", "medium", "high")', "think")
    if "reasoning" not in spec.capabilities:
        raise invalid(f'"{name}" does not support thinking', param="think")
    return THINK_BUDGETS[level]


def parse_tools(body: JsonObject, name: str, spec: ModelSpec) -> tuple[tuple[ToolSpec, ...], ToolChoice]:
    """``tools`` (OpenAI-style function declarations) and the tool choice they imply (auto, or none)."""
    raw = body.get("tools")
    if raw is None or raw == []:
        return (), NO_TOOLS
    if not isinstance(raw, list):
        raise unmarshal_error(raw, "ChatRequest.tools", "api.Tools")
    if "tools" not in spec.capabilities:  # the scheduler's error: the model's full registry name
        raise invalid(f"{registry_name(name)} does not support tools", param="tools")
    tools: list[ToolSpec] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise unmarshal_error(item, "ChatRequest.tools", "api.Tool")
        function = item.get("function")
        if not isinstance(function, dict):
            raise invalid(f"tools[{i}]: a function tool needs a 'function' object", param=f"tools[{i}].function")
        tool_name = get_string(function, "name", "ToolFunction")
        if not tool_name:
            raise invalid(f"tools[{i}].function.name is required", param=f"tools[{i}].function.name")
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(parameters, dict):
            raise unmarshal_error(parameters, "ToolFunction.parameters", "api.ToolFunctionParameters")
        try:
            check_schema(parameters)
        except SchemaError as exc:
            raise invalid(f"tools[{i}].function.parameters: invalid JSON schema: {exc}", f"tools[{i}]") from None
        tools.append(ToolSpec(tool_name, get_string(function, "description", "ToolFunction") or "", parameters))
    return tuple(tools), AUTO_TOOL_CHOICE


def keep_alive(body: JsonObject) -> float:
    """``keep_alive`` in seconds (see ``common.keep_alive_seconds``)."""
    return keep_alive_seconds(body.get("keep_alive"))
