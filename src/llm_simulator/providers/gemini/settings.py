"""The nested settings of a generate request that only need checking: safety, tool config, modalities.

Google refuses an unknown field or enum name anywhere in a request, naming it; these objects
change nothing the simulator produces, so they are only checked (in either casing, as
``fields`` reads everything).
"""

from __future__ import annotations

from llm_simulator.core.errors import invalid
from llm_simulator.providers.gemini import fields
from llm_simulator.providers.validation import JsonObject

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


def check_safety_settings(body: JsonObject) -> None:
    """``safetySettings``: objects with a known ``category``, ``threshold`` and ``method``."""
    for i, setting in enumerate(fields.get_list(body, "safetySettings", "safety_settings") or []):
        where = f"safety_settings[{i}]"
        if not isinstance(setting, dict):
            raise invalid(f"Invalid JSON payload received. Expected an object for '{where}'.", param=where)
        fields.check_known(setting, SAFETY_FIELDS, where)
        fields.enum_value(fields.get(setting, "category"), f"{where}.category", HARM_CATEGORIES, "HarmCategory")
        threshold = fields.get(setting, "threshold")
        fields.enum_value(threshold, f"{where}.threshold", HARM_THRESHOLDS, "HarmBlockThreshold")
        fields.enum_value(fields.get(setting, "method"), f"{where}.method", HARM_METHODS, "HarmBlockMethod")


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
        fields.enum_value(modality, f"{where}.response_modalities[{i}]", MODALITIES, "Modality")
    resolution = fields.get(config, "mediaResolution")
    fields.enum_value(resolution, f"{where}.media_resolution", MEDIA_RESOLUTIONS, "MediaResolution")
