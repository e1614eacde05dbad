"""Embeddings on Vertex AI: ``:embedContent`` (Gemini embedding models) and ``:predict`` (``text-embedding-*``).

``:embedContent`` takes one ``content`` and an ``embedContentConfig`` (``taskType``,
``title``, ``outputDimensionality``, ``autoTruncate``) and answers the vector with its
``usageMetadata``; ``:predict`` takes ``instances`` (``content`` text, ``task_type``,
``title``) and ``parameters`` and answers ``predictions`` with per-vector statistics.
A text over the model's input limit is truncated unless ``autoTruncate`` is false, which
refuses it with a 400 as Vertex does.
"""

from __future__ import annotations

from typing import Any

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.engine.catalogue import ModelSpec
from llm_simulator.engine.cpu import off_loop
from llm_simulator.engine.embeddings import embed
from llm_simulator.engine.simulator import Simulator
from llm_simulator.providers.gemini import fields
from llm_simulator.providers.gemini.common import json_headers
from llm_simulator.providers.gemini.contents import parse_content
from llm_simulator.providers.gemini.embed import EMBED, TASK_TYPES
from llm_simulator.providers.heavy import is_heavy
from llm_simulator.providers.pipeline import serve_embedding
from llm_simulator.providers.validation import JsonObject, parse_object

MAX_INSTANCES = 250
CONFIG_FIELDS = ("taskType", "title", "outputDimensionality", "autoTruncate", "documentOcr", "audioTrackExtraction")
INSTANCE_FIELDS = ("content", "task_type", "title", "mimeType")


def _size(spec: ModelSpec, model: str, requested: int | None, where: str) -> int:
    """The vector size: the model's own, or a smaller ``outputDimensionality``."""
    native = spec.embedding_dimensions or 768
    size = requested or native
    if size > native:
        raise invalid(f"{where}: must be at most {native} for {model}, got {size}.", param=where)
    return size


def _tokens_within(spec: ModelSpec, tokens: int, truncate: bool, where: str) -> tuple[int, bool]:
    """(tokens counted, truncated) of one input against the model's input limit."""
    if tokens <= spec.context_window:
        return tokens, False
    if not truncate:
        raise invalid(
            f"Input text is too long: {tokens} tokens, the limit is {spec.context_window}. Set autoTruncate to true "
            "to truncate it.",
            param=where,
        )
    return spec.context_window, True


def _task(value: str | None, where: str) -> None:
    if value is not None and value not in TASK_TYPES:
        raise invalid(f"Invalid value at '{where}' (type.googleapis.com/TaskType), \"{value}\"", param=where)


def _embed_content(sim: Simulator, body: JsonObject, spec: ModelSpec, model: str) -> tuple[dict[str, Any], int]:
    fields.check_known(body, ("content", "embedContentConfig"), "")
    content = fields.get(body, "content")
    if content is None:
        raise invalid("* EmbedContentRequest.content: content is not specified.", param="content")
    message, tokens = parse_content(sim, content, "content")
    config = fields.get_object(body, "embedContentConfig", "embed_content_config") or {}
    fields.check_known(config, CONFIG_FIELDS, "embed_content_config")
    _task(fields.get_str(config, "taskType", "embed_content_config.task_type"), "embed_content_config.task_type")
    fields.get_str(config, "title", "embed_content_config.title")
    where = "embed_content_config.output_dimensionality"
    size = _size(spec, model, fields.get_int(config, "outputDimensionality", where, minimum=1), where)
    truncate = fields.get_bool(config, "autoTruncate", "embed_content_config.auto_truncate")
    tokens, cut = _tokens_within(spec, tokens, truncate is not False, "content")
    answer = {
        "embedding": {"values": embed(message.text, size)},
        "usageMetadata": {"promptTokenCount": tokens, "totalTokenCount": tokens},
        "truncated": cut,
    }
    return answer, tokens


async def embed_content(sim: Simulator, request: HttpRequest, model: str, spec: ModelSpec) -> Response:
    """Serve ``:embedContent`` on Vertex: ``{"embedding": {"values"}, "usageMetadata", "truncated"}``."""
    body = parse_object(request.body)
    answer, tokens = await off_loop(is_heavy(request), None, _embed_content, sim, body, spec, model)
    await serve_embedding(sim, request, EMBED, spec, model, tokens, tuple)
    return JsonResponse(200, orjson.dumps(answer), json_headers())


def _predict(sim: Simulator, body: JsonObject, spec: ModelSpec, model: str) -> tuple[dict[str, Any], int, list[str]]:
    fields.check_known(body, ("instances", "parameters"), "")
    instances = fields.get_list(body, "instances", "instances")
    if not instances:
        raise invalid("instances: at least one instance is required.", param="instances")
    if len(instances) > MAX_INSTANCES:
        raise invalid(f"instances: at most {MAX_INSTANCES} instances are allowed, got {len(instances)}.", "instances")
    parameters = fields.get_object(body, "parameters", "parameters") or {}
    where = "parameters.outputDimensionality"
    size = _size(spec, model, fields.get_int(parameters, "outputDimensionality", where, minimum=1), where)
    truncate = fields.get_bool(parameters, "autoTruncate", "parameters.autoTruncate") is not False
    predictions = []
    texts = []
    total = 0
    for i, instance in enumerate(instances):
        at = f"instances[{i}]"
        if not isinstance(instance, dict):
            raise invalid(f"Invalid JSON payload received. Expected an object for '{at}'.", param=at)
        fields.check_known(instance, INSTANCE_FIELDS, at)
        text = fields.get_str(instance, "content", f"{at}.content")
        if text is None:
            raise invalid(f"{at}.content: content is required.", param=f"{at}.content")
        _task(fields.get_str(instance, "task_type", f"{at}.task_type"), f"{at}.task_type")
        fields.get_str(instance, "title", f"{at}.title")
        tokens, cut = _tokens_within(spec, sim.count_tokens(text), truncate, f"{at}.content")
        statistics = {"token_count": tokens, "truncated": cut}
        predictions.append({"embeddings": {"values": embed(text, size), "statistics": statistics}})
        texts.append(text)
        total += tokens
    answer = {"predictions": predictions, "metadata": {"billableCharacterCount": sum(len(t) for t in texts)}}
    return answer, total, texts


async def predict(sim: Simulator, request: HttpRequest, model: str, spec: ModelSpec) -> Response:
    """Serve ``:predict`` for a text embedding model: one prediction per instance, in order."""
    body = parse_object(request.body)
    answer, tokens, texts = await off_loop(is_heavy(request), None, _predict, sim, body, spec, model)
    await serve_embedding(sim, request, EMBED, spec, model, tokens, lambda: texts)
    return JsonResponse(200, orjson.dumps(answer), json_headers())
