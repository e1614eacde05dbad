"""The nested settings of a generate request that only need checking: safety, tool config, modalities.

Google refuses an unknown field or enum name anywhere in a request, naming it; these objects
change nothing the simulator produces, so they are only checked (in either casing, as
``fields`` reads everything).
"""

from __future__ import annotations

from typing import Any

from llm_simulator.core.errors import invalid
from llm_simulator.providers.gemini import fields
from llm_simulator.providers.validation import JsonObject, preview

HARM_CATEGORIES = frozenset(
    {
        "HARM_CATEGORY_UNSPECIFIED",
        "HARM_CATEGORY_HARASSMENT",
        "HARM_CATEGORY_HATE_SPEECH",
        "HARM_CATEGORY_SEXUALLY_EXPLICIT",
        "HARM_CATEGORY_DANGEROUS_CONTENT",
        "HARM_CATEGORY_CIVIC_INTEGRITY",
        "HARM_CATEGORY_JAILBREAK",
        "HARM_CATEGORY_IMAGE_HATE",
        "HARM_CATEGORY_IMAGE_DANGEROUS_CONTENT",
        "HARM_CATEGORY_IMAGE_HARASSMENT",
        "HARM_CATEGORY_IMAGE_SEXUALLY_EXPLICIT",
    }
)
HARM_THRESHOLDS = frozenset(
    {
        "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
        "BLOCK_LOW_AND_ABOVE",
        "BLOCK_MEDIUM_AND_ABOVE",
        "BLOCK_ONLY_HIGH",
        "BLOCK_NONE",
        "OFF",
    }
)
HARM_METHODS = frozenset({"HARM_BLOCK_METHOD_UNSPECIFIED", "SEVERITY", "PROBABILITY"})
MODALITIES = frozenset({"MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO", "VIDEO"})
MEDIA_RESOLUTIONS = frozenset(
    {"MEDIA_RESOLUTION_UNSPECIFIED", "MEDIA_RESOLUTION_LOW", "MEDIA_RESOLUTION_MEDIUM", "MEDIA_RESOLUTION_HIGH"}
)
SAFETY_FIELDS = ("category", "threshold", "method")
TOOL_CONFIG_FIELDS = ("functionCallingConfig", "retrievalConfig", "includeServerSideToolInvocations")
CALLING_FIELDS = ("mode", "allowedFunctionNames", "streamFunctionCallArguments")
THINKING_FIELDS = ("includeThoughts", "thinkingBudget", "thinkingLevel")


def enum_value(value: Any, allowed: frozenset[str], where: str, proto: str) -> str | None:
    """``value`` if it names one of ``allowed`` in any casing (None when absent); else Google's 400 naming it."""
    if value is None:
        return None
    # Google reads enum names in any casing (its image-generation examples send
    # ``responseModalities: ["Text", "Image"]``).
    if not isinstance(value, str) or value.upper() not in allowed:
        raise invalid(f"Invalid value at '{where}' (type.googleapis.com/{proto}), {preview(value)}", param=where)
    return value


def check_safety_settings(body: JsonObject) -> None:
    """``safetySettings``: objects with a known ``category``, ``threshold`` and ``method``."""
    for i, setting in enumerate(fields.get_list(body, "safetySettings", "safety_settings") or []):
        where = f"safety_settings[{i}]"
        if not isinstance(setting, dict):
            raise invalid(f"Invalid JSON payload received. Expected an object for '{where}'.", param=where)
        fields.check_known(setting, SAFETY_FIELDS, where)
        enum_value(fields.get(setting, "category"), HARM_CATEGORIES, f"{where}.category", "HarmCategory")
        enum_value(fields.get(setting, "threshold"), HARM_THRESHOLDS, f"{where}.threshold", "HarmBlockThreshold")
        enum_value(fields.get(setting, "method"), HARM_METHODS, f"{where}.method", "HarmBlockMethod")


def check_tool_config(body: JsonObject) -> None:
    """``toolConfig`` and its ``functionCallingConfig``: no field the API does not know."""
    config = fields.get_object(body, "toolConfig", "tool_config")
    if config is None:
        return
    fields.check_known(config, TOOL_CONFIG_FIELDS, "tool_config")
    calling = fields.get_object(config, "functionCallingConfig", "tool_config.function_calling_config")
    if calling is not None:
        fields.check_known(calling, CALLING_FIELDS, "tool_config.function_calling_config")


def check_generation_settings(config: JsonObject | None, where: str) -> None:
    """``generationConfig``'s ``thinkingConfig`` fields, ``responseModalities`` and ``mediaResolution``."""
    if config is None:
        return
    thinking = fields.get_object(config, "thinkingConfig", f"{where}.thinking_config")
    if thinking is not None:
        fields.check_known(thinking, THINKING_FIELDS, f"{where}.thinking_config")
    modalities = fields.get_list(config, "responseModalities", f"{where}.response_modalities") or []
    for i, modality in enumerate(modalities):
        enum_value(modality, MODALITIES, f"{where}.response_modalities[{i}]", "Modality")
    resolution = fields.get(config, "mediaResolution")
    enum_value(resolution, MEDIA_RESOLUTIONS, f"{where}.media_resolution", "MediaResolution")
