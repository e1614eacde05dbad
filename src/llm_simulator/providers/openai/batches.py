"""OpenAI's ``/v1/batches``: create from an uploaded JSONL file, retrieve, list, cancel.

A batch moves validating → in_progress → finalizing → completed (or failed when its file
is bad, cancelling → cancelled when cancelled). Its lines are answered by the app itself
(``batch_runner``), so each output line is what a live request would have got. The output
and error files are stored in the ``FileStore`` with purpose ``batch_output``.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import orjson

from llm_simulator.config.schema import BatchesConfig
from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import JSON_CONTENT_TYPE, HttpRequest, JsonResponse, Response
from llm_simulator.infra.clock import Clock
from llm_simulator.providers.batch_runner import BatchRunner, LineRequest, forwarded_headers, make_room
from llm_simulator.providers.internal import InternalResponse
from llm_simulator.providers.openai.common import new_id
from llm_simulator.providers.openai.files import FileStore, expiry_seconds
from llm_simulator.providers.openai.listing import list_limit, list_page
from llm_simulator.providers.validation import JsonObject

ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/responses")
COMPLETION_WINDOWS = ("24h",)
EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."
MAX_METADATA_KEYS = 16
DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 100
FINISHED = frozenset({"completed", "failed", "cancelled", "expired"})


@dataclass(slots=True)
class Batch:
    """One batch job's state."""

    id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    created_at: int
    metadata: dict[str, str] | None
    headers: dict[str, str]
    # When the completion window closes (``batches.completion_window_s`` × ``time_scale``).
    expires_at: int
    # ``output_expires_after.seconds``: the output and error files' lifetime (None: until deleted).
    output_expiry_s: int | None = None
    status: str = "validating"
    times: dict[str, int | None] = field(default_factory=dict)
    errors: list[dict[str, object]] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    model: str | None = None
    task: asyncio.Task[None] | None = None

    def describe(self) -> dict[str, object]:
        """The batch object."""
        times = self.times
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "model": self.model,
            "errors": None if self.errors is None else {"object": "list", "data": self.errors},
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "in_progress_at": times.get("in_progress_at"),
            "expires_at": self.expires_at,
            "finalizing_at": times.get("finalizing_at"),
            "completed_at": times.get("completed_at"),
            "failed_at": times.get("failed_at"),
            "expired_at": times.get("expired_at"),
            "cancelling_at": times.get("cancelling_at"),
            "cancelled_at": times.get("cancelled_at"),
            "request_counts": {"total": self.total, "completed": self.completed, "failed": self.failed},
            "metadata": self.metadata,
        }


def _line_error(line: int, code: str, message: str, param: str | None = None) -> dict[str, object]:
    return {"code": code, "message": message, "param": param, "line": line}


def validate_lines(data: bytes, endpoint: str, max_requests: int) -> tuple[list[JsonObject], list[dict[str, object]]]:
    """The file's requests, and OpenAI's errors for the lines that are not valid requests."""
    requests: list[JsonObject] = []
    errors: list[dict[str, object]] = []
    seen: set[str] = set()
    models: set[str] = set()
    lines = data.decode("utf-8", "replace").splitlines()
    numbered = [(n, text) for n, text in enumerate(lines, 1) if text.strip()]
    if not numbered:
        return [], [_line_error(1, "empty_file", "The input file is empty. Please provide a non-empty file.")]
    if len(numbered) > max_requests:
        message = f"The input file has {len(numbered)} requests; a batch holds at most {max_requests}."
        return [], [_line_error(1, "too_many_tasks", message)]
    for number, text in numbered:
        try:
            item = orjson.loads(text)
        except orjson.JSONDecodeError:
            item = None
        if not isinstance(item, dict):
            errors.append(_line_error(number, "invalid_json_line", "This line is not parseable as valid JSON."))
            continue
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            message = "Missing required parameter: 'custom_id'. Each request needs a unique string custom_id."
            errors.append(_line_error(number, "missing_required_parameter", message, "custom_id"))
            continue
        if custom_id in seen:
            message = (
                "The custom_id for this request is a duplicate of another request. The custom_id parameter "
                "must be unique for each individual request in a batch."
            )
            errors.append(_line_error(number, "duplicate_custom_id", message, "custom_id"))
            continue
        seen.add(custom_id)
        if item.get("method") != "POST":
            message = f"Invalid 'method': {item.get('method')!r}. Batch requests must use 'POST'."
            errors.append(_line_error(number, "invalid_method", message, "method"))
            continue
        if item.get("url") != endpoint:
            message = f"The provided URL '{item.get('url')}' does not match the batch endpoint '{endpoint}'."
            errors.append(_line_error(number, "url_mismatch", message, "url"))
            continue
        body = item.get("body")
        if not isinstance(body, dict):
            message = "Missing required parameter: 'body'. Expected the request's JSON object."
            errors.append(_line_error(number, "missing_required_parameter", message, "body"))
            continue
        model = body.get("model")
        if isinstance(model, str):
            models.add(model)
            if len(models) > 1:
                message = "The model in this request does not match the model of the batch's other requests."
                errors.append(_line_error(number, "model_mismatch", message, "body.model"))
                models.discard(model)
                continue
        requests.append(item)
    return requests, errors


class BatchService:
    """Batches of one worker, bounded by ``batches.max_batches``."""

    def __init__(self, clock: Clock, files: FileStore, runner: BatchRunner, config: BatchesConfig) -> None:
        self.clock = clock
        self.files = files
        self.runner = runner
        self.config = config
        self.batches: OrderedDict[str, Batch] = OrderedDict()

    def _now(self) -> int:
        return int(self.clock.wall())

    def _make_room(self) -> None:
        make_room(
            self.batches,
            self.config.max_batches,
            lambda batch: batch.status in FINISHED,
            lambda: SimulatorError(
                ErrorKind.RATE_LIMIT,
                f"Too many batches in progress: the simulator keeps at most {self.config.max_batches} "
                "(batches.max_batches). Wait for some to finish and try again.",
                code="batch_limit_exceeded",
                should_retry=False,
            ),
        )

    def create(self, body: JsonObject, headers: dict[str, str]) -> Batch:
        """Validate a create request and start the job."""
        input_file_id = body.get("input_file_id")
        if not isinstance(input_file_id, str) or not input_file_id:
            raise invalid(
                "Missing required parameter: 'input_file_id'.", param="input_file_id", code="missing_required_parameter"
            )
        endpoint = body.get("endpoint")
        if endpoint not in ENDPOINTS:
            raise invalid(
                f"Invalid value for 'endpoint': {endpoint!r}. Expected one of " + ", ".join(ENDPOINTS) + ".",
                param="endpoint",
                code="invalid_value",
            )
        window = body.get("completion_window")
        if window not in COMPLETION_WINDOWS:
            raise invalid(
                f"Invalid value for 'completion_window': {window!r}. Supported values are: '24h'.",
                param="completion_window",
                code="invalid_value",
            )
        metadata = body.get("metadata")
        if metadata is not None and (
            not isinstance(metadata, dict)
            or len(metadata) > MAX_METADATA_KEYS
            or not all(isinstance(v, str) for v in metadata.values())
        ):
            raise invalid(
                f"Invalid 'metadata': expected an object of at most {MAX_METADATA_KEYS} string values.",
                param="metadata",
                code="invalid_value",
            )
        output_expiry_s = expiry_seconds(body.get("output_expires_after"), "output_expires_after")
        stored = self.files.require(input_file_id, param="input_file_id")
        if stored.purpose != "batch":
            raise invalid(
                f"Invalid 'input_file_id': '{input_file_id}'. The file's purpose is '{stored.purpose}'; "
                "a batch's input file must be uploaded with purpose 'batch'.",
                param="input_file_id",
                code="invalid_value",
            )
        self._make_room()
        assert isinstance(endpoint, str)
        assert isinstance(window, str)
        created_at = self._now()
        batch = Batch(
            new_id("batch_", 32),
            endpoint,
            input_file_id,
            window,
            created_at,
            metadata,
            forwarded_headers(headers),
            math.ceil(self.runner.expires_at(created_at)),
            output_expiry_s,
        )
        self.batches[batch.id] = batch
        batch.task = self.runner.start(self._run(batch, stored.data))
        return batch

    def require(self, batch_id: str) -> Batch:
        """The batch, or OpenAI's 404."""
        batch = self.batches.get(batch_id)
        if batch is None:
            raise SimulatorError(ErrorKind.NOT_FOUND, f"No batch found with id '{batch_id}'.", param="batch_id")
        return batch

    def cancel(self, batch_id: str) -> Batch:
        """Start cancelling a batch that has not finished; 409 when it has."""
        batch = self.require(batch_id)
        if batch.status in FINISHED or batch.status == "cancelling":
            raise SimulatorError(
                ErrorKind.INVALID_REQUEST,
                f"Cannot cancel a batch with status '{batch.status}'.",
                status=409,
                code="batch_not_cancellable",
            )
        batch.status = "cancelling"
        batch.times["cancelling_at"] = self._now()
        if batch.task is not None:
            batch.task.cancel()
        return batch

    async def _run(self, batch: Batch, data: bytes) -> None:
        outputs: list[bytes] = []
        failures: list[bytes] = []
        custom_ids: list[str] = []
        unfinished: set[int] = set()  # lines without an answer yet (they expire with the window)
        window = self.runner.window()
        try:
            try:
                async with window:
                    await self.runner.phase(self.config.validating_s)
                    requests, errors = validate_lines(data, batch.endpoint, self.config.max_requests_per_batch)
                    if errors:
                        batch.errors = errors
                        batch.status = "failed"
                        batch.times["failed_at"] = self._now()
                        return
                    batch.total = len(requests)
                    models = {r["body"].get("model") for r in requests}
                    model = next(iter(models)) if len(models) == 1 else None
                    batch.model = model if isinstance(model, str) else None
                    batch.status = "in_progress"
                    batch.times["in_progress_at"] = self._now()
                    custom_ids.extend(str(r["custom_id"]) for r in requests)
                    unfinished.update(range(len(requests)))
                    lines = [LineRequest(i, batch.endpoint, _body(r["body"])) for i, r in enumerate(requests)]

                    def done(line: LineRequest, answer: InternalResponse) -> None:
                        unfinished.discard(line.index)
                        record = _output_line(custom_ids[line.index], answer)
                        if answer.status < 400:
                            batch.completed += 1
                            outputs.append(record)
                        else:
                            batch.failed += 1
                            failures.append(record)

                    await self.runner.run_lines(lines, batch.headers, done)
            except TimeoutError:
                if not window.expired():
                    raise
                self._expire(batch, [custom_ids[i] for i in sorted(unfinished)], outputs, failures)
                return
            batch.status = "finalizing"
            batch.times["finalizing_at"] = self._now()
            await self.runner.phase(self.config.finalizing_s)
            self._write_files(batch, outputs, failures)
            batch.status = "completed"
            batch.times["completed_at"] = self._now()
        except asyncio.CancelledError:
            if batch.status != "cancelling":
                raise
            self._write_files(batch, outputs, failures)
            batch.status = "cancelled"
            batch.times["cancelled_at"] = self._now()
        except SimulatorError as exc:  # the output files did not fit in storage
            batch.errors = [{"code": exc.code or "server_error", "message": exc.message, "param": None, "line": None}]
            batch.status = "failed"
            batch.times["failed_at"] = self._now()

    def _expire(self, batch: Batch, unfinished: list[str], outputs: list[bytes], failures: list[bytes]) -> None:
        """The window passed: the unanswered lines go to the error file as ``batch_expired``, counted failed."""
        failures.extend(_expired_line(custom_id) for custom_id in unfinished)
        batch.failed += len(unfinished)
        self._write_files(batch, outputs, failures)
        batch.status = "expired"
        batch.times["expired_at"] = self._now()

    def _write_files(self, batch: Batch, outputs: list[bytes], failures: list[bytes]) -> None:
        expiry = batch.output_expiry_s
        if outputs:
            name = f"batch_{batch.id}_output.jsonl"
            batch.output_file_id = self.files.add(name, "batch_output", b"".join(outputs), expiry).id
        if failures:
            name = f"batch_{batch.id}_error.jsonl"
            batch.error_file_id = self.files.add(name, "batch_output", b"".join(failures), expiry).id


def _body(body: Any) -> bytes:
    """A line's body as sent: never streamed (a batch answer is one JSON object)."""
    body = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
    return orjson.dumps(body)


def _expired_line(custom_id: str) -> bytes:
    """The error file's line for a request the completion window closed on, in OpenAI's shape."""
    error = {"code": "batch_expired", "message": EXPIRED_MESSAGE}
    line = {"id": new_id("batch_req_", 32), "custom_id": custom_id, "response": None, "error": error}
    return orjson.dumps(line) + b"\n"


def _output_line(custom_id: str, answer: InternalResponse) -> bytes:
    """One line of the output or error file, in OpenAI's shape."""
    try:
        payload: Any = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        payload = answer.body.decode("utf-8", "replace")
    line = {
        "id": new_id("batch_req_", 32),
        "custom_id": custom_id,
        "response": {
            "status_code": answer.status,
            "request_id": answer.headers.get("x-request-id", ""),
            "body": payload,
        },
        "error": None,
    }
    return orjson.dumps(line) + b"\n"


def _json(body: object, request: HttpRequest) -> JsonResponse:
    return JsonResponse(200, orjson.dumps(body), [JSON_CONTENT_TYPE, (b"x-request-id", request.request_id.encode())])


def _request_body(request: HttpRequest) -> JsonObject:
    try:
        body = orjson.loads(request.body or b"null")
    except orjson.JSONDecodeError:
        raise invalid("We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return body


async def create(service: BatchService, request: HttpRequest) -> Response:
    """Serve ``POST /v1/batches``."""
    batch = service.create(_request_body(request), dict(request.headers))
    return _json(batch.describe(), request)


async def retrieve(service: BatchService, request: HttpRequest) -> Response:
    """Serve ``GET /v1/batches/{batch_id}``."""
    return _json(service.require(request.path_params["batch_id"]).describe(), request)


async def cancel(service: BatchService, request: HttpRequest) -> Response:
    """Serve ``POST /v1/batches/{batch_id}/cancel``."""
    return _json(service.cancel(request.path_params["batch_id"]).describe(), request)


async def list_batches(service: BatchService, request: HttpRequest) -> Response:
    """Serve ``GET /v1/batches`` (newest first; ``after``, ``limit``)."""
    limit = list_limit(request, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)
    newest_first = list(reversed(service.batches.values()))
    return _json(list_page(newest_first, request, limit, lambda b: b.id, lambda b: b.describe()), request)
