"""Structured outputs on the Messages API: ``output_config.format`` (GA) and the beta ``output_format``.

A request with a JSON-schema format is answered with one text block whose text is a JSON
instance of the schema, ending ``end_turn`` (``max_tokens`` when the limit cuts it short),
streamed as ordinary ``text_delta`` events: the engine plans it like OpenAI's
``response_format`` (``OutputKind.JSON_SCHEMA``). What the API refuses is refused here with
its 400, never ignored: a schema outside the supported subset (``schema_rules``), both
spellings at once, a model without structured outputs, an assistant prefill, citations, and
the per-request limits on strict schemas.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from llm_simulator.core.errors import invalid
from llm_simulator.core.types import TEXT_OUTPUT, OutputFormat, OutputKind
from llm_simulator.engine.schema import SchemaError, check_schema
from llm_simulator.providers.anthropic.described import restore_described
from llm_simulator.providers.anthropic.schema_rules import SchemaRuleError, check_subset, optional_and_union_counts
from llm_simulator.providers.validation import JsonObject, get_object, get_str, missing, type_error

FORMAT_TYPES = ("json_schema",)
EFFORTS = ("low", "medium", "high", "xhigh", "max")
# Models released before structured outputs (Claude 3.x, Sonnet 4 and Opus 4): the API
# answers them with a 400. Later models (Opus 4.1 onwards, the 4.5 family, …) support it.
UNSUPPORTED_MODEL_PREFIXES = ("claude-3-", "claude-sonnet-4-2025", "claude-opus-4-2025")
# The documented per-request limits, counted over every strict schema (the output format and
# the strict tools together).
MAX_STRICT_TOOLS = 20
MAX_OPTIONAL_PROPERTIES = 24
MAX_UNION_PROPERTIES = 16


@dataclass(frozen=True, slots=True)
class StructuredOutput:
    """The request's output format and the field it came from (for error messages)."""

    output: OutputFormat = TEXT_OUTPUT
    param: str = ""

    @property
    def enabled(self) -> bool:
        """Whether the answer must be JSON for a schema."""
        return self.output.kind is OutputKind.JSON_SCHEMA


NO_FORMAT = StructuredOutput()


def parse_output_config(body: JsonObject, model_id: str) -> StructuredOutput:
    """``output_config`` (its ``effort`` and ``format``) and the beta top-level ``output_format``."""
    config = get_object(body, "output_config")
    ga = None
    if config is not None:
        effort = get_str(config, "effort", "output_config.effort")
        if effort is not None and effort not in EFFORTS:
            raise invalid(
                f"output_config.effort: Input should be {', '.join(repr(e) for e in EFFORTS[:-1])} or 'max'",
                param="output_config.effort",
            )
        ga = get_object(config, "format", "output_config.format")
    # The beta spelling, still accepted (with or without its structured-outputs beta header)
    # during the API's transition period; litellm and older AI SDK releases send it.
    beta = get_object(body, "output_format")
    if ga is not None and beta is not None:
        raise invalid(
            "output_format: cannot be used together with output_config.format; output_format is deprecated, "
            "use output_config.format only",
            param="output_format",
        )
    if ga is None and beta is None:
        return NO_FORMAT
    raw, where = (ga, "output_config.format") if ga is not None else (beta, "output_format")
    assert raw is not None
    kind = get_str(raw, "type", f"{where}.type", required=True)
    if kind not in FORMAT_TYPES:
        raise invalid(
            f"{where}.type: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            "'json_schema'",
            param=f"{where}.type",
        )
    if "schema" not in raw or raw["schema"] is None:
        raise missing(f"{where}.schema")
    schema = raw["schema"]
    if not isinstance(schema, dict):
        raise type_error(f"{where}.schema", "an object", schema)
    checked = checked_strict_schema(schema, f"{where}.schema")
    # Generate from the schema with the constraints the SDK moved into descriptions restored.
    return StructuredOutput(OutputFormat(OutputKind.JSON_SCHEMA, restore_described(checked)), where)


def check_model(model_id: str, param: str) -> None:
    """A 400 for a model released before structured outputs (``param``: the format or ``tools``)."""
    if model_id.startswith(UNSUPPORTED_MODEL_PREFIXES):
        raise invalid(f"{param}: '{model_id}' does not support structured outputs", param=param)


def checked_strict_schema(schema: dict[str, Any], param: str) -> dict[str, Any]:
    """``schema`` if structured outputs accept it and the engine can generate it; else the API's 400."""
    try:
        check_subset(schema)
    except SchemaRuleError as exc:
        raise invalid(f"{param}: {exc}", param=param) from None
    try:
        check_schema(schema)
    except SchemaError as exc:
        raise invalid(f"{param}: Invalid schema: {exc}", param=param) from None
    return schema


def check_limits(schemas: Iterable[dict[str, Any]], strict_tools: int) -> None:
    """The per-request limits on strict tools, optional and union-typed properties."""
    if strict_tools > MAX_STRICT_TOOLS:
        raise invalid(
            f"tools: Too many strict tools ({strict_tools}); at most {MAX_STRICT_TOOLS} tools with strict: true "
            "are supported per request",
            param="tools",
        )
    optional = unions = 0
    for schema in schemas:
        more_optional, more_unions = optional_and_union_counts(schema)
        optional += more_optional
        unions += more_unions
    if optional > MAX_OPTIONAL_PROPERTIES:
        raise invalid(
            f"Schemas contains too many optional parameters ({optional}), which would make grammar compilation "
            f"inefficient. Reduce the number of optional parameters in your tool schemas "
            f"(limit: {MAX_OPTIONAL_PROPERTIES}).",
            param="tools",
        )
    if unions > MAX_UNION_PROPERTIES:
        raise invalid(
            f"Schemas contains too many parameters with union types ({unions}), which would make grammar "
            f"compilation inefficient. Reduce the number of parameters with union types "
            f"(limit: {MAX_UNION_PROPERTIES}).",
            param="tools",
        )


def check_compatible(body: JsonObject, structured: StructuredOutput) -> None:
    """The features JSON outputs cannot be combined with: an assistant prefill and citations."""
    if not structured.enabled:
        return
    messages = body.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    if isinstance(last, dict) and last.get("role") == "assistant":
        raise invalid(
            f"Prefilling the assistant message is not supported when using {structured.param}: "
            "the final message must be a user message",
            param="messages",
        )
    if _cites(body):
        raise invalid(
            f"Citations are not supported with {structured.param}: disable citations on the documents or "
            "remove the output format",
            param=structured.param,
        )


def _cites(body: JsonObject) -> bool:
    """Whether any document block of the request enables citations."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return False
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "document":
                citations = block.get("citations")
                if isinstance(citations, dict) and citations.get("enabled") is True:
                    return True
    return False
