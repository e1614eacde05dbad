"""What a Gemini batch is asked to do: its inlined requests, or the JSONL file it names.

``batch.inputConfig`` holds either ``requests.requests`` (``[{"request": {…}, "metadata":
{…}}]``) or ``fileName`` (``files/…``, uploaded with the Files API), a JSON Lines file of
``{"key": …, "request": {…}}``. A create body that is wrong as a whole (no requests, too
many, an unknown or non-JSONL file) is refused with ``INVALID_ARGUMENT``; a file line that
is not such an object becomes that line's error in the results, and the other lines run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.providers.gemini import fields
from llm_simulator.providers.gemini.files import GeminiFile, GeminiFiles
from llm_simulator.providers.validation import JsonObject


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One request of a batch: its body (None for a bad line, with ``error``) and its label.

    The label is the inlined request's ``metadata`` or the file line's ``key`` (None when absent).
    """

    body: JsonObject | None
    label: Any = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BatchInput:
    """A create body, read: the display name, the requests and the input file (None when inlined)."""

    display_name: str
    items: list[BatchItem]
    source: GeminiFile | None = None


# Media types a JSONL input file may have been uploaded as (the docs upload it as ``jsonl``).
_JSONL_TYPES = ("jsonl", "application/jsonl", "application/json", "application/x-ndjson", "application/octet-stream")


def is_jsonl_type(mime_type: str) -> bool:
    """Whether a file of ``mime_type`` can hold batch requests (JSON or plain text)."""
    mime = mime_type.split(";", 1)[0].strip().lower()
    return mime in _JSONL_TYPES or mime.startswith("text/") or mime.endswith(("+json", "jsonl", "ndjson"))


def _request(raw: Any) -> JsonObject | None:
    """A request object without its ``model`` (the batch's model is the URL's), or None."""
    if not isinstance(raw, dict):
        return None
    return {k: v for k, v in raw.items() if k != "model"}


def _inlined(config: JsonObject, max_requests: int) -> list[BatchItem]:
    outer = config.get("requests")
    items = outer.get("requests") if isinstance(outer, dict) else None
    if not isinstance(items, list) or not items:
        message = "batch.input_config.requests.requests must hold at least one request."
        raise invalid(message, param="batch.input_config")
    if len(items) > max_requests:
        raise invalid(
            f"batch.input_config.requests.requests holds {len(items)} requests; a batch holds at most {max_requests}.",
            param="batch.input_config",
        )
    read: list[BatchItem] = []
    for n, item in enumerate(items):
        request = _request(item.get("request") if isinstance(item, dict) else None)
        if request is None:
            raise invalid(f"batch.input_config.requests.requests[{n}].request is required.", param="batch.input_config")
        read.append(BatchItem(request, item.get("metadata")))
    return read


def _line(number: int, raw: bytes) -> BatchItem:
    """One JSONL line: its request, or why it cannot run."""
    try:
        parsed: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return BatchItem(None, None, f"Line {number}: invalid JSON: {exc}.")
    if not isinstance(parsed, dict):
        return BatchItem(None, None, f'Line {number}: expected an object {{"key": ..., "request": {{...}}}}.')
    key = parsed.get("key")
    request = _request(parsed.get("request"))
    if request is None:
        return BatchItem(None, key, f"Line {number}: 'request' is required and must be an object.")
    return BatchItem(request, key)


def file_lines(source: GeminiFile, max_requests: int) -> list[BatchItem]:
    """The requests of a JSONL input file, one per non-blank line."""
    if not is_jsonl_type(source.mime_type):
        raise invalid(
            f"{source.name} has MIME type '{source.mime_type}': batch input must be a JSONL file "
            "(upload it with mime_type 'jsonl' or 'application/jsonl').",
            param="batch.input_config.file_name",
        )
    lines = [(n, raw) for n, raw in enumerate(source.data.split(b"\n"), 1) if raw.strip()]
    if not lines:
        raise invalid(f"{source.name} holds no requests.", param="batch.input_config.file_name")
    if len(lines) > max_requests:
        raise invalid(
            f"{source.name} holds {len(lines)} requests; a batch holds at most {max_requests}.",
            param="batch.input_config.file_name",
        )
    return [_line(n, raw) for n, raw in lines]


def read_create(body: JsonObject, files: GeminiFiles, max_requests: int) -> BatchInput:
    """The batch a ``:batchGenerateContent`` or ``:asyncBatchEmbedContent`` body asks for, or the API's 400."""
    batch = body.get("batch")
    if not isinstance(batch, dict):
        raise invalid("Invalid JSON payload: 'batch' is required and must be an object.", param="batch")
    display_name = fields.get(batch, "displayName") or ""
    if not isinstance(display_name, str):
        raise invalid("batch.display_name must be a string.", param="batch.display_name")
    config = fields.get(batch, "inputConfig")
    if not isinstance(config, dict):
        raise invalid("batch.input_config is required.", param="batch.input_config")
    file_name = fields.get(config, "fileName")
    if file_name is not None and "requests" in config:
        raise invalid("batch.input_config: give either requests or file_name, not both.", param="batch.input_config")
    if file_name is None:
        return BatchInput(display_name, _inlined(config, max_requests))
    if not isinstance(file_name, str) or not file_name:
        raise invalid("batch.input_config.file_name must name a file (files/...).", param="batch.input_config")
    source = files.require(file_name)
    return BatchInput(display_name, file_lines(source, max_requests), source)
