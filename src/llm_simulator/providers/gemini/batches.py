"""Gemini batch mode: ``models/{model}:batchGenerateContent`` and the ``batches/{id}`` operations.

A batch is a long-running operation named ``batches/{id}``: its ``metadata`` (a
``GenerateContentBatch``) moves ``BATCH_STATE_PENDING`` → ``RUNNING`` → ``SUCCEEDED`` (or
``CANCELLED``), with ``batchStats``; once done, ``done: true`` and the answers inlined in
``metadata.output`` and ``response`` (``inlinedResponses``), in request order. Each inlined
request is sent through the app itself as ``:generateContent`` on the batch's model with the
creating request's headers (``batch_runner``), so its answer is what a live request gets.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from llm_simulator.config.schema import BatchesConfig
from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import JSON_CONTENT_TYPE, HttpRequest, JsonResponse, Response
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.batch_runner import BatchRunner, LineRequest, forwarded_headers, make_room
from llm_simulator.providers.gemini.common import PROVIDER, api_version, require_model
from llm_simulator.providers.internal import InternalResponse
from llm_simulator.providers.validation import JsonObject, parse_object

TYPE_PREFIX = "type.googleapis.com/google.ai.generativelanguage.v1beta."
DONE = frozenset({"BATCH_STATE_SUCCEEDED", "BATCH_STATE_CANCELLED", "BATCH_STATE_FAILED"})
# google.rpc.Code of each canonical status (an inlined error is a google.rpc.Status: code, message).
RPC_CODES = {
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "UNAUTHENTICATED": 16,
}
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def timestamp(seconds: float | None) -> str | None:
    """A ``google.protobuf.Timestamp`` in JSON (RFC 3339, ``Z``)."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class GeminiBatch:
    """One batch's state."""

    name: str
    model: str
    display_name: str
    metadata: list[Any]
    created: float
    headers: dict[str, str]
    state: str = "BATCH_STATE_PENDING"
    updated: float = 0.0
    ended: float | None = None
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)
    failed: int = 0
    task: asyncio.Task[None] | None = None

    def describe(self) -> dict[str, Any]:
        """The operation."""
        total = len(self.metadata)
        done = self.state in DONE
        stats = {
            "requestCount": str(total),
            "successfulRequestCount": str(len(self.answers) - self.failed),
            "failedRequestCount": str(self.failed),
            "pendingRequestCount": str(0 if done else total - len(self.answers)),
        }
        batch: dict[str, Any] = {
            "@type": TYPE_PREFIX + "GenerateContentBatch",
            "model": f"models/{self.model}",
            "name": self.name,
            "displayName": self.display_name,
            "createTime": timestamp(self.created),
            "updateTime": timestamp(self.updated or self.created),
            "batchStats": stats,
            "state": self.state,
        }
        operation: dict[str, Any] = {"name": self.name, "metadata": batch}
        if self.ended is not None:
            batch["endTime"] = timestamp(self.ended)
        if done:
            inlined = {"inlinedResponses": [self._inlined(i) for i in range(total)]}
            batch["output"] = {"inlinedResponses": inlined}
            operation["done"] = True
            operation["response"] = {"@type": TYPE_PREFIX + "GenerateContentBatchOutput", "inlinedResponses": inlined}
        return operation

    def _inlined(self, index: int) -> dict[str, Any]:
        answer = self.answers.get(index)
        if answer is None:
            message = "The batch was cancelled before this request ran."
            answer = {"error": {"code": 1, "message": message}}
        metadata = self.metadata[index]
        return answer | ({"metadata": metadata} if metadata is not None else {})


def _answer(response: InternalResponse) -> tuple[bool, dict[str, Any]]:
    """Whether the request succeeded, and its inlined response (the answer or its ``error`` status)."""
    try:
        payload: Any = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        payload = None
    if response.status < 400 and isinstance(payload, dict):
        return True, {"response": payload}
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return False, {"error": {"code": 13, "message": f"The request failed with status {response.status}."}}
    status = RPC_CODES.get(str(error.get("status")), 2)
    return False, {"error": {"code": status, "message": str(error.get("message", ""))}}


def _inlined_requests(body: JsonObject, max_requests: int) -> tuple[str, list[tuple[JsonObject, Any]]]:
    """The display name and ``(request, metadata)`` pairs of a create body, or the API's 400."""
    batch = body.get("batch")
    if not isinstance(batch, dict):
        raise invalid("Invalid JSON payload: 'batch' is required and must be an object.", param="batch")
    display_name = batch.get("displayName", batch.get("display_name", ""))
    if not isinstance(display_name, str):
        raise invalid("batch.display_name must be a string.", param="batch.display_name")
    config = batch.get("inputConfig", batch.get("input_config"))
    if not isinstance(config, dict):
        raise invalid("batch.input_config is required.", param="batch.input_config")
    if "fileName" in config or "file_name" in config:
        raise invalid(
            "batch.input_config.file_name: file-based batch input is not supported by the simulator; "
            "inline the requests (input_config.requests).",
            param="batch.input_config",
        )
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
    pairs: list[tuple[JsonObject, Any]] = []
    for n, item in enumerate(items):
        request = item.get("request") if isinstance(item, dict) else None
        if not isinstance(request, dict):
            raise invalid(f"batch.input_config.requests.requests[{n}].request is required.", param="batch.input_config")
        request = {k: v for k, v in request.items() if k != "model"}
        pairs.append((request, item.get("metadata")))
    return display_name, pairs


class GeminiBatchService:
    """Gemini batches of one worker, bounded by ``batches.max_batches``."""

    def __init__(self, sim: Simulator, runner: BatchRunner, config: BatchesConfig) -> None:
        self.sim = sim
        self.runner = runner
        self.config = config
        self.batches: OrderedDict[str, GeminiBatch] = OrderedDict()

    def _make_room(self) -> None:
        make_room(
            self.batches,
            self.config.max_batches,
            lambda batch: batch.state in DONE,
            lambda: SimulatorError(
                ErrorKind.RATE_LIMIT,
                f"Too many batches in progress: the simulator keeps at most {self.config.max_batches} "
                "(batches.max_batches). Wait for some to finish and try again.",
                should_retry=False,
            ),
        )

    def create(self, request: HttpRequest, model: str) -> GeminiBatch:
        """Validate a ``:batchGenerateContent`` body and start the batch."""
        version = api_version(request.path)
        spec = require_model(self.sim, model, "batchGenerateContent", version, embedding=False)
        reported = spec.id if spec.provider == PROVIDER else model
        display_name, pairs = _inlined_requests(parse_object(request.body), self.config.max_requests_per_batch)
        self._make_room()
        name = "batches/" + IDS.token(40).lower()
        batch = GeminiBatch(
            name,
            reported,
            display_name,
            [meta for _, meta in pairs],
            self.sim.clock.wall(),
            forwarded_headers(request.headers),
        )
        self.batches[name] = batch
        path = f"/{version}/models/{model}:generateContent"
        lines = [LineRequest(i, path, orjson.dumps(body)) for i, (body, _) in enumerate(pairs)]
        batch.task = self.runner.start(self._run(batch, lines))
        return batch

    def require(self, batch_id: str) -> GeminiBatch:
        """The batch, or Google's 404."""
        batch = self.batches.get(f"batches/{batch_id}")
        if batch is None:
            raise SimulatorError(ErrorKind.NOT_FOUND, f"Batch batches/{batch_id} not found.", param="name")
        return batch

    def cancel(self, batch_id: str) -> None:
        """Cancel a batch that has not finished (a finished one is left as it is)."""
        batch = self.require(batch_id)
        if batch.state in DONE:
            return
        batch.state = "BATCH_STATE_CANCELLED"
        batch.updated = batch.ended = self.sim.clock.wall()
        if batch.task is not None:
            batch.task.cancel()

    def delete(self, batch_id: str) -> None:
        """Forget a batch (cancelling it first if it runs)."""
        self.cancel(batch_id)
        del self.batches[f"batches/{batch_id}"]

    async def _run(self, batch: GeminiBatch, lines: list[LineRequest]) -> None:
        def done(line: LineRequest, response: InternalResponse) -> None:
            ok, answer = _answer(response)
            batch.answers[line.index] = answer
            batch.failed += 0 if ok else 1
            batch.updated = self.sim.clock.wall()

        await self.runner.phase(self.config.validating_s)
        batch.state = "BATCH_STATE_RUNNING"
        batch.updated = self.sim.clock.wall()
        await self.runner.run_lines(lines, batch.headers, done)
        await self.runner.phase(self.config.finalizing_s)
        batch.state = "BATCH_STATE_SUCCEEDED"
        batch.updated = batch.ended = self.sim.clock.wall()


def _json(body: object) -> JsonResponse:
    return JsonResponse(200, orjson.dumps(body), [JSON_CONTENT_TYPE])


async def create(service: GeminiBatchService, request: HttpRequest, model: str) -> Response:
    """Serve ``POST /{version}/models/{model}:batchGenerateContent``."""
    return _json(service.create(request, model).describe())


async def get(service: GeminiBatchService, request: HttpRequest) -> Response:
    """Serve ``GET /{version}/batches/{batch_id}``."""
    return _json(service.require(request.path_params["batch_id"]).describe())


async def delete(service: GeminiBatchService, request: HttpRequest) -> Response:
    """Serve ``DELETE /{version}/batches/{batch_id}`` (an empty object, as the API answers)."""
    service.delete(request.path_params["batch_id"])
    return _json({})


async def action(service: GeminiBatchService, request: HttpRequest) -> Response:
    """Serve ``POST /{version}/batches/{batch_id}:cancel`` (the only action on a batch)."""
    target = request.path_params["batch_action"]
    batch_id, sep, verb = target.rpartition(":")
    if not sep or verb != "cancel":
        raise SimulatorError(
            ErrorKind.NOT_FOUND, f"Method not found: '{verb or target}' is not a method of batches. Supported: cancel"
        )
    service.cancel(batch_id)
    return _json({})


async def list_batches(service: GeminiBatchService, request: HttpRequest) -> Response:
    """Serve ``GET /{version}/batches`` (newest first; ``pageSize``, ``pageToken``)."""
    raw = request.query.get("pageSize", str(DEFAULT_PAGE_SIZE))
    try:
        size = int(raw)
    except ValueError:
        raise invalid(f"Invalid value at 'page_size' (TYPE_INT32), \"{raw}\"", param="pageSize") from None
    if size <= 0:
        size = DEFAULT_PAGE_SIZE
    size = min(size, MAX_PAGE_SIZE)
    batches = list(reversed(service.batches.values()))
    token = request.query.get("pageToken")
    start = 0
    if token:
        names = [b.name.removeprefix("batches/") for b in batches]
        if token not in names:
            raise invalid(f"Invalid page token: {token}.", param="pageToken")
        start = names.index(token)
    page = batches[start : start + size]
    body: dict[str, Any] = {"operations": [b.describe() for b in page]}
    if start + size < len(batches):
        body["nextPageToken"] = batches[start + size].name.removeprefix("batches/")
    return _json(body)
