"""Request-body and parameter schemas for ``/openapi.json``, built from the model catalogue.

Each schema states what the provider's validation code accepts, so a request generated
from the document reaches the handler's deep paths (a model it knows, a non-empty
conversation, token limits within the model's range) and a request outside it gets the
provider's 400. Where the accepted range depends on the model named in the body, the body
is an ``anyOf`` with one branch per group of models sharing a limit. Where the model is
named in the URL instead (Gemini's ``{model}:method``, Azure's deployment), JSON Schema
cannot tie the body to the path, so the body carries the range every listed model accepts
(the smallest output limit), and the model's own limit is in its ``/models`` entry.

Only the fields a client commonly sends are described; the providers' references are the
full contracts.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from llm_simulator.engine.catalogue import MAX_UNKNOWN_MODEL_ID, Catalogue, ModelSpec
from llm_simulator.providers.anthropic.batches import CUSTOM_ID
from llm_simulator.providers.gemini.embed import MAX_BATCH, TASK_TYPES
from llm_simulator.providers.gemini.generate import MAX_CANDIDATES, MAX_STOP_SEQUENCES
from llm_simulator.providers.openai.audio import TRANSCRIPT_FORMATS
from llm_simulator.providers.openai.batches import COMPLETION_WINDOWS, ENDPOINTS, MAX_METADATA_KEYS
from llm_simulator.providers.openai.embeddings import MAX_INPUTS, SHORTENABLE_PREFIX
from llm_simulator.providers.openai.files import MAX_EXPIRY_S, MIN_EXPIRY_S, UPLOAD_PURPOSES
from llm_simulator.providers.openai.responses import MIN_OUTPUT_TOKENS
from llm_simulator.providers.openai.responses_input import INCLUDABLE

Schema = dict[str, Any]
# Chat and legacy completions refuse more choices than this (n, and prompts × n).
MAX_CHOICES = 128
INT32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
# The spec an unknown id gets under ``models.accept_unknown`` (see ``Catalogue.resolve``).
UNKNOWN_OUTPUT_LIMIT = 16_384
_FORBIDDEN: Schema = {"not": {}}


@dataclass(frozen=True, slots=True)
class Models:
    """The model ids (and aliases) a route accepts, with the spec each one resolves to."""

    named: tuple[tuple[str, ModelSpec], ...]
    accept_unknown: bool

    @property
    def ids(self) -> list[str]:
        """The ids and aliases, in catalogue order (aliases after the models)."""
        return [name for name, _ in self.named]

    def smallest(self, value: Callable[[ModelSpec], int], unknown: int) -> int:
        """The smallest ``value`` over the listed models (and the unknown-model default)."""
        values = [value(spec) for _, spec in self.named] + ([unknown] if self.accept_unknown else [])
        return min(values, default=unknown)

    def largest(self, value: Callable[[ModelSpec], int], unknown: int) -> int:
        """The largest ``value`` over the listed models (and the unknown-model default)."""
        values = [value(spec) for _, spec in self.named] + ([unknown] if self.accept_unknown else [])
        return max(values, default=unknown)

    def enum(self) -> Schema:
        """The ``model`` schema: the listed ids, or any id up to the length served when unknown ids are accepted."""
        if self.accept_unknown:
            return {"type": "string", "minLength": 1, "maxLength": MAX_UNKNOWN_MODEL_ID, "examples": self.ids[:8]}
        return {"enum": self.ids}


def models(catalogue: Catalogue, accept_unknown: bool, keep: Callable[[ModelSpec], bool]) -> Models:
    """Every model id and alias whose spec passes ``keep``."""
    named = [(spec.id, spec) for spec in catalogue.list_models() if keep(spec)]
    for alias, target in sorted(catalogue.aliases().items()):
        spec = catalogue.lookup(target)
        if spec is not None and keep(spec) and alias not in {name for name, _ in named}:
            named.append((alias, spec))
    return Models(tuple(named), accept_unknown)


def is_generation(spec: ModelSpec) -> bool:
    """A chat model (every text endpoint serves any of them, whichever vendor made it)."""
    return spec.kind == "chat"


def _openai_reasoning(spec: ModelSpec) -> bool:
    """OpenAI's reasoning models refuse ``max_tokens`` and non-default sampling settings."""
    return spec.provider == "openai" and "reasoning" in spec.capabilities


def _by_model(
    allowed: Models, key: Callable[[ModelSpec], Hashable], unknown: Hashable, branch: Callable[[Any], Schema]
) -> list[Schema]:
    """``anyOf`` branches: one per group of models sharing ``key``, each with ``branch(key)``.

    Under ``accept_unknown`` a last branch takes any other id with the unknown-model spec.
    """
    groups: dict[Hashable, list[str]] = {}
    for name, spec in allowed.named:
        groups.setdefault(key(spec), []).append(name)
    branches = [_with_model({"enum": names}, branch(group)) for group, names in groups.items()]
    if allowed.accept_unknown:
        other = {"type": "string", "minLength": 1, "maxLength": MAX_UNKNOWN_MODEL_ID, "not": {"enum": allowed.ids}}
        branches.append(_with_model(other, branch(unknown)))
    return branches


def _with_model(model: Schema, extra: Schema) -> Schema:
    return {"properties": {"model": model, **extra}}


def _output_limit(allowed: Models) -> int:
    """The largest output limit of any listed model (each model's own is in the ``anyOf``)."""
    return allowed.largest(lambda s: s.max_output_tokens, UNKNOWN_OUTPUT_LIMIT)


def _smallest_output_limit(allowed: Models) -> int:
    """The output limit every listed model accepts (for bodies whose model the URL names)."""
    return allowed.smallest(lambda s: s.max_output_tokens, UNKNOWN_OUTPUT_LIMIT)


def _text(min_length: int = 0) -> Schema:
    return {"type": "string", "minLength": min_length} if min_length else {"type": "string"}


def _tokens(maximum: int, minimum: int = 1) -> Schema:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


# -- OpenAI ----------------------------------------------------------------------------------

_OPENAI_MESSAGES: Schema = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "properties": {"role": {"enum": ["system", "developer", "user", "assistant"]}, "content": _text()},
        "required": ["role", "content"],
    },
}
_STOP: Schema = {"anyOf": [_text(), {"type": "array", "items": _text(), "maxItems": 4}]}
_EMBEDDING_INPUT: Schema = {
    "anyOf": [_text(1), {"type": "array", "items": _text(1), "minItems": 1, "maxItems": MAX_INPUTS}]
}


def _chat_limits(group: tuple[int, bool]) -> Schema:
    """``max_tokens`` and the sampling settings a group of chat models accepts."""
    limit, reasoning = group
    if reasoning:
        return {
            "max_completion_tokens": _tokens(limit),
            "max_tokens": _FORBIDDEN,
            "temperature": {"const": 1},
            "top_p": {"const": 1},
        }
    return {"max_completion_tokens": _tokens(limit), "max_tokens": _tokens(limit)}


def _chat_key(spec: ModelSpec) -> tuple[int, bool]:
    return spec.max_output_tokens, _openai_reasoning(spec)


def openai_chat(allowed: Models, *, azure: bool = False) -> Schema:
    """``POST /v1/chat/completions`` (on Azure: no ``model``, and the range every deployment accepts)."""
    properties: Schema = {
        "messages": _OPENAI_MESSAGES,
        "n": _tokens(MAX_CHOICES),
        "stream": {"type": "boolean"},
        "stop": _STOP,
        "seed": {"type": "integer"},
        "presence_penalty": {"type": "number", "minimum": -2, "maximum": 2},
        "frequency_penalty": {"type": "number", "minimum": -2, "maximum": 2},
    }
    if azure:
        # The deployment picks the model; reasoning deployments refuse max_tokens and sampling settings.
        properties["max_completion_tokens"] = _tokens(_smallest_output_limit(allowed))
        return {"type": "object", "properties": properties, "required": ["messages"]}
    properties |= {
        "model": allowed.enum(),
        "max_tokens": _tokens(_output_limit(allowed)),
        "max_completion_tokens": _tokens(_output_limit(allowed)),
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
    }
    return {
        "type": "object",
        "properties": properties,
        "required": ["model", "messages"],
        "anyOf": _by_model(allowed, _chat_key, (UNKNOWN_OUTPUT_LIMIT, False), _chat_limits),
    }


def _prompts_times_n() -> list[Schema]:
    """The number of prompts times ``n`` is at most 128: one prompt and any ``n``, or many and ``n`` 1.

    (JSON Schema cannot multiply; these two cover the common requests and admit none refused.)
    """
    many = {"type": "array", "items": _text(), "minItems": 1, "maxItems": MAX_CHOICES}
    return [
        {"properties": {"prompt": {"anyOf": [_text(), {**many, "maxItems": 1}]}, "n": _tokens(MAX_CHOICES)}},
        {"properties": {"prompt": many, "n": {"const": 1}}},
    ]


def openai_completion(allowed: Models, *, azure: bool = False) -> Schema:
    """``POST /v1/completions``: the model's output limit, and at most 128 choices in all."""
    properties: Schema = {
        "prompt": {"anyOf": [_text(), {"type": "array", "items": _text(), "minItems": 1, "maxItems": MAX_CHOICES}]},
        "n": _tokens(MAX_CHOICES),
        "stream": {"type": "boolean"},
        "echo": {"type": "boolean"},
        "logprobs": {"type": "integer", "minimum": 0, "maximum": 5},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "stop": _STOP,
        "seed": {"type": "integer"},
    }
    if azure:
        properties["max_tokens"] = _tokens(_smallest_output_limit(allowed))
        return {"type": "object", "properties": properties, "required": ["prompt"], "anyOf": _prompts_times_n()}
    properties |= {"model": allowed.enum(), "max_tokens": _tokens(_output_limit(allowed))}
    limits = _by_model(
        allowed, lambda s: s.max_output_tokens, UNKNOWN_OUTPUT_LIMIT, lambda m: {"max_tokens": _tokens(m)}
    )
    return {
        "type": "object",
        "properties": properties,
        "required": ["model", "prompt"],
        "allOf": [{"anyOf": limits}, {"anyOf": _prompts_times_n()}],
    }


def _dimensions(spec: ModelSpec) -> Schema:
    native = spec.embedding_dimensions or 1536
    if spec.id.startswith(SHORTENABLE_PREFIX):
        return {"dimensions": _tokens(native)}
    return {"dimensions": {"const": native}}


def openai_embedding(allowed: Models, *, azure: bool = False) -> Schema:
    """``POST /v1/embeddings``: non-empty inputs; ``dimensions`` only where the model can shorten."""
    properties: Schema = {"input": _EMBEDDING_INPUT, "encoding_format": {"enum": ["float", "base64"]}}
    if azure:
        return {"type": "object", "properties": properties, "required": ["input"]}
    largest = allowed.largest(lambda s: s.embedding_dimensions or 1536, 1536)
    properties |= {"model": allowed.enum(), "dimensions": _tokens(largest)}
    branches = [_with_model({"const": name}, _dimensions(spec)) for name, spec in allowed.named]
    return {"type": "object", "properties": properties, "required": ["model", "input"], "anyOf": branches}


def openai_responses(allowed: Models) -> Schema:
    """``POST /v1/responses``: ``input`` as text or a non-empty list of messages."""
    message = {
        "type": "object",
        "properties": {"role": {"enum": ["system", "developer", "user", "assistant"]}, "content": _text()},
        "required": ["role", "content"],
    }

    def limits(group: tuple[int, bool]) -> Schema:
        limit, reasoning = group
        out = {"max_output_tokens": _tokens(limit, MIN_OUTPUT_TOKENS)}
        return out | {"temperature": {"const": 1}, "top_p": {"const": 1}} if reasoning else out

    return {
        "type": "object",
        "properties": {
            "model": allowed.enum(),
            "input": {"anyOf": [_text(), {"type": "array", "items": message, "minItems": 1}]},
            "instructions": _text(),
            "max_output_tokens": _tokens(_output_limit(allowed), MIN_OUTPUT_TOKENS),
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "stream": {"type": "boolean"},
            "background": {"type": "boolean"},
            "include": {"type": "array", "items": {"enum": list(INCLUDABLE)}},
        },
        "required": ["model", "input"],
        "anyOf": _by_model(allowed, _chat_key, (UNKNOWN_OUTPUT_LIMIT, False), limits),
    }


# -- Anthropic -------------------------------------------------------------------------------

# Content must be non-empty (only a final assistant prefill may be empty; left out here).
_ANTHROPIC_MESSAGES: Schema = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "properties": {"role": {"enum": ["user", "assistant"]}, "content": _text(1)},
        "required": ["role", "content"],
    },
}


def anthropic_messages(allowed: Models) -> Schema:
    """``POST /v1/messages``: ``max_tokens`` required, up to the model's output limit."""
    return {
        "type": "object",
        "properties": {
            "model": allowed.enum(),
            "max_tokens": _tokens(_output_limit(allowed)),
            "messages": _ANTHROPIC_MESSAGES,
            "system": _text(),
            "stream": {"type": "boolean"},
            "temperature": {"type": "number", "minimum": 0, "maximum": 1},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "top_k": {"type": "integer", "minimum": 0},
            # Each stop sequence must hold a non-whitespace character.
            "stop_sequences": {"type": "array", "items": {"type": "string", "pattern": r"\S"}, "maxItems": 4},
        },
        "required": ["model", "max_tokens", "messages"],
        "anyOf": _by_model(
            allowed, lambda s: s.max_output_tokens, UNKNOWN_OUTPUT_LIMIT, lambda m: {"max_tokens": _tokens(m)}
        ),
    }


def anthropic_message_batch(allowed: Models, max_requests: int) -> Schema:
    """``POST /v1/messages/batches``: 1 to ``batches.max_requests_per_batch`` Messages requests, none streamed."""
    params = anthropic_messages(allowed)
    params = params | {"properties": params["properties"] | {"stream": {"const": False}}}
    item = {
        "type": "object",
        "properties": {"custom_id": {"type": "string", "pattern": CUSTOM_ID.pattern}, "params": params},
        "required": ["custom_id", "params"],
    }
    requests = {"type": "array", "items": item, "minItems": 1, "maxItems": max_requests}
    return {"type": "object", "properties": {"requests": requests}, "required": ["requests"]}


def anthropic_count_tokens(allowed: Models) -> Schema:
    """``POST /v1/messages/count_tokens``."""
    return {
        "type": "object",
        "properties": {"model": allowed.enum(), "messages": _ANTHROPIC_MESSAGES, "system": _text()},
        "required": ["model", "messages"],
    }


# -- Gemini ----------------------------------------------------------------------------------

# Gemini refuses unknown fields, so its objects are closed.
_PART: Schema = {
    "type": "object",
    "properties": {"text": _text(1)},
    "required": ["text"],
    "additionalProperties": False,
}
_CONTENT: Schema = {
    "type": "object",
    "properties": {"role": {"enum": ["user", "model"]}, "parts": {"type": "array", "items": _PART, "minItems": 1}},
    "required": ["parts"],
    "additionalProperties": False,
}


def closed(properties: Schema, required: Iterable[str] = ()) -> Schema:
    """An object schema with ``properties`` and no others (Google refuses unknown fields)."""
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


def gemini_generate(allowed: Models) -> Schema:
    """``:generateContent`` / ``:streamGenerateContent`` / the body ``:countTokens`` may wrap."""
    config = closed(
        {
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "topP": {"type": "number", "minimum": 0, "maximum": 1},
            "candidateCount": _tokens(MAX_CANDIDATES),
            "maxOutputTokens": _tokens(_smallest_output_limit(allowed)),
            "stopSequences": {"type": "array", "items": _text(), "maxItems": MAX_STOP_SEQUENCES},
            "seed": INT32,
        }
    )
    return closed(
        {
            "contents": {"type": "array", "items": _CONTENT, "minItems": 1},
            "systemInstruction": _CONTENT,
            "generationConfig": config,
        },
        ["contents"],
    )


def gemini_count_tokens(allowed: Models) -> Schema:
    """``:countTokens``: ``contents``, or a whole ``generateContentRequest``."""
    contents = {"type": "array", "items": _CONTENT, "minItems": 1}
    return {
        "anyOf": [
            closed({"contents": contents}, ["contents"]),
            closed({"generateContentRequest": gemini_generate(allowed)}, ["generateContentRequest"]),
        ]
    }


def _embed_request(allowed: Models) -> Schema:
    dimensions = allowed.smallest(lambda s: s.embedding_dimensions or 768, 768)
    return closed(
        {
            "content": _CONTENT,
            "taskType": {"enum": sorted(TASK_TYPES)},
            "title": _text(),
            "outputDimensionality": _tokens(dimensions),
        },
        ["content"],
    )


def gemini_embed(allowed: Models) -> Schema:
    """``:embedContent``."""
    return _embed_request(allowed)


def gemini_batch_embed(allowed: Models) -> Schema:
    """``:batchEmbedContents``: 1 to 250 requests for the model in the URL."""
    items = {"type": "array", "items": _embed_request(allowed), "minItems": 1, "maxItems": MAX_BATCH}
    return closed({"requests": items}, ["requests"])


def _gemini_batch(request: Schema) -> Schema:
    """A Gemini batch create body: ``request``s inlined (with metadata), or an uploaded JSONL file."""
    item = {"type": "object", "properties": {"request": request, "metadata": {"type": "object"}}}
    item["required"] = ["request"]
    inlined = closed({"requests": {"type": "array", "items": item, "minItems": 1}}, ["requests"])
    from_file = closed({"fileName": {"type": "string", "pattern": "^files/[a-z0-9-]+$"}}, ["fileName"])
    config = {"anyOf": [closed({"requests": inlined}, ["requests"]), from_file]}
    batch = {"type": "object", "properties": {"displayName": {"type": "string"}, "inputConfig": config}}
    return closed({"batch": batch | {"required": ["inputConfig"]}}, ["batch"])


def gemini_batch_generate(allowed: Models) -> Schema:
    """``:batchGenerateContent``: a batch of ``generateContent`` requests for the model in the URL."""
    return _gemini_batch(gemini_generate(allowed))


def gemini_async_batch_embed(allowed: Models) -> Schema:
    """``:asyncBatchEmbedContent``: a batch of ``embedContent`` requests for the model in the URL."""
    return _gemini_batch(_embed_request(allowed))


def gemini_file_upload() -> Schema:
    """``POST /upload/{version}/files`` (the resumable protocol's start): the file's metadata."""
    meta = {
        "mimeType": {"type": "string", "pattern": "^[a-z]+/[a-z0-9.+-]+$"},
        "displayName": {"type": "string", "maxLength": 512},
        "name": {"type": "string", "pattern": "^files/[a-z0-9]{1,20}$"},
    }
    return closed({"file": closed(meta)})


def openai_file_upload() -> Schema:
    """``POST /v1/files`` (multipart/form-data): the file and its purpose."""
    return closed(
        {"file": {"type": "string", "format": "binary"}, "purpose": {"enum": list(UPLOAD_PURPOSES)}},
        ["file", "purpose"],
    )


def openai_transcription(translation: bool = False) -> Schema:
    """``POST /v1/audio/transcriptions`` and ``/translations`` (multipart/form-data): the audio and its model."""
    models = ["whisper-1"] if translation else ["whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"]
    fields: dict[str, Schema] = {
        "file": {"type": "string", "format": "binary"},
        "model": {"enum": models},
        "response_format": {"enum": list(TRANSCRIPT_FORMATS)},
        "prompt": {"type": "string"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
    }
    if not translation:
        fields["language"] = {"type": "string", "minLength": 2, "maxLength": 2}
    return closed(fields, ["file", "model"])


def openai_image_edit() -> Schema:
    """``POST /v1/images/edits`` (multipart/form-data): the image(s), an optional mask, the prompt."""
    binary = {"type": "string", "format": "binary"}
    fields: dict[str, Schema] = {
        "image": binary,
        "mask": binary,
        "prompt": {"type": "string", "minLength": 1, "maxLength": 32_000},
        "model": {"enum": ["dall-e-2", "gpt-image-1"]},
        "n": {"type": "integer", "minimum": 1, "maximum": 10},
        "size": {"enum": ["256x256", "512x512", "1024x1024", "1536x1024", "1024x1536", "auto"]},
        "response_format": {"enum": ["url", "b64_json"]},
    }
    return closed(fields, ["image", "prompt"])


def openai_image_variation() -> Schema:
    """``POST /v1/images/variations`` (multipart/form-data): a square PNG (dall-e-2)."""
    fields: dict[str, Schema] = {
        "image": {"type": "string", "format": "binary"},
        "model": {"enum": ["dall-e-2"]},
        "n": {"type": "integer", "minimum": 1, "maximum": 10},
        "size": {"enum": ["256x256", "512x512", "1024x1024"]},
        "response_format": {"enum": ["url", "b64_json"]},
    }
    return closed(fields, ["image"])


def openai_batch() -> Schema:
    """``POST /v1/batches``: an uploaded file's id, the endpoint its lines call, the window."""
    metadata = {"type": "object", "maxProperties": MAX_METADATA_KEYS, "additionalProperties": {"type": "string"}}
    return {
        "type": "object",
        "properties": {
            "input_file_id": {"type": "string", "minLength": 1},
            "endpoint": {"enum": list(ENDPOINTS)},
            "completion_window": {"enum": list(COMPLETION_WINDOWS)},
            "metadata": {"anyOf": [metadata, {"type": "null"}]},
            "output_expires_after": {
                "type": "object",
                "properties": {
                    "anchor": {"enum": ["created_at"]},
                    "seconds": {"type": "integer", "minimum": MIN_EXPIRY_S, "maximum": MAX_EXPIRY_S},
                },
                "required": ["anchor", "seconds"],
            },
        },
        "required": ["input_file_id", "endpoint", "completion_window"],
    }
