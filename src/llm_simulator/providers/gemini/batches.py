"""Gemini batch mode: ``:batchGenerateContent``, ``:asyncBatchEmbedContent`` and the ``batches/{id}`` operations.

A batch is a long-running operation named ``batches/{id}``: its ``metadata`` (a
``GenerateContentBatch``, or an ``EmbedContentBatch``) moves ``BATCH_STATE_PENDING`` →
``RUNNING`` → ``SUCCEEDED`` (or ``CANCELLED``, or ``EXPIRED`` when it is still unfinished
48 hours after creation, times ``batches.time_scale``), with ``batchStats``; once done,
``done: true`` and the output in ``metadata.output`` and ``response``: the answers inlined
(``inlinedResponses``, in request order) for inlined requests, or ``responsesFile``, a
generated JSONL file of ``{"key", "response" | "error"}`` lines, for a batch read from a
file (``batch_input``). Each request is sent through the app itself as ``:generateContent``
(``:embedContent``) on the batch's model with the creating request's headers
(``batch_runner``), so its answer is what a live request gets.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import orjson

from llm_simulator.config.schema import BatchesConfig
from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.core.http import HttpRequest, Response
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.batch_runner import BatchRunner, LineRequest, forwarded_headers, make_room
from llm_simulator.providers.gemini.batch_input import read_create
from llm_simulator.providers.gemini.common import PROVIDER, api_version, require_model
from llm_simulator.providers.gemini.files import GeminiFile, GeminiFiles, base_url, json_response
from llm_simulator.providers.gemini.paging import page, timestamp
from llm_simulator.providers.internal import InternalResponse
from llm_simulator.providers.validation import parse_object

TYPE_PREFIX = "type.googleapis.com/google.ai.generativelanguage.v1beta."
SUCCEEDED = "BATCH_STATE_SUCCEEDED"
CANCELLED = "BATCH_STATE_CANCELLED"
FAILED = "BATCH_STATE_FAILED"
EXPIRED = "BATCH_STATE_EXPIRED"
DONE = frozenset({SUCCEEDED, CANCELLED, FAILED, EXPIRED})
# The API expires a batch that is still pending or running this long after its creation.
EXPIRY_S = 48 * 3600.0
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
# What a request that never ran reports, by how its batch ended.
UNRAN = {
    CANCELLED: {"code": 1, "message": "The batch was cancelled before this request ran."},
    EXPIRED: {"code": 4, "message": "The batch expired (48 hours after its creation) before this request ran."},
    FAILED: {"code": 13, "message": "The batch failed before this request ran."},
}
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class BatchKind:
    """A kind of batch: its method, the method each request is sent to and the resource types."""

    action: str
    line_action: str
    batch_type: str
    output_type: str
    embedding: bool


GENERATE = BatchKind(
    "batchGenerateContent", "generateContent", "GenerateContentBatch", "GenerateContentBatchOutput", embedding=False
)
EMBED = BatchKind(
    "asyncBatchEmbedContent", "embedContent", "EmbedContentBatch", "EmbedContentBatchOutput", embedding=True
)
KINDS = {kind.action: kind for kind in (GENERATE, EMBED)}


@dataclass(slots=True)
class GeminiBatch:
    """One batch's state."""

    name: str
    model: str
    kind: BatchKind
    display_name: str
    labels: list[Any]
    created: float
    headers: dict[str, str]
    base: str
    version: str
    source: str | None = None
    state: str = "BATCH_STATE_PENDING"
    updated: float = 0.0
    ended: float | None = None
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)
    failed: int = 0
    task: asyncio.Task[None] | None = None
    results_file: str | None = None
    error: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        """The operation."""
        total = len(self.labels)
        done = self.state in DONE
        stats = {
            "requestCount": str(total),
            "successfulRequestCount": str(len(self.answers) - self.failed),
            "failedRequestCount": str(self.failed),
            "pendingRequestCount": str(0 if done else total - len(self.answers)),
        }
        batch: dict[str, Any] = {
            "@type": TYPE_PREFIX + self.kind.batch_type,
            "model": f"models/{self.model}",
            "name": self.name,
            "displayName": self.display_name,
            "createTime": timestamp(self.created),
            "updateTime": timestamp(self.updated or self.created),
            "batchStats": stats,
            "state": self.state,
        }
        if self.source is not None:
            batch["inputConfig"] = {"fileName": self.source}
        operation: dict[str, Any] = {"name": self.name, "metadata": batch}
        if self.ended is not None:
            batch["endTime"] = timestamp(self.ended)
        if done:
            output = self._output()
            batch["output"] = output
            operation["done"] = True
            if self.error is not None:
                operation["error"] = self.error
            else:
                operation["response"] = {"@type": TYPE_PREFIX + self.kind.output_type, **output}
        return operation

    def _output(self) -> dict[str, Any]:
        if self.results_file is not None:
            return {"responsesFile": self.results_file}
        if self.source is not None:
            return {}  # a file batch whose results could not be stored (see ``error``)
        return {"inlinedResponses": {"inlinedResponses": [self._inlined(i) for i in range(len(self.labels))]}}

    def outcome(self, index: int) -> dict[str, Any]:
        """The request's answer: its ``response``, or its ``error`` (also for one that never ran)."""
        return self.answers.get(index) or {"error": UNRAN.get(self.state, UNRAN[FAILED])}

    def _inlined(self, index: int) -> dict[str, Any]:
        metadata = self.labels[index]
        return self.outcome(index) | ({"metadata": metadata} if metadata is not None else {})

    def results(self) -> bytes:
        """The results file: one ``{"key", "response" | "error"}`` line per request, in input order."""
        lines = []
        for index, key in enumerate(self.labels):
            line = ({"key": key} if key is not None else {}) | self.outcome(index)
            lines.append(orjson.dumps(line) + b"\n")
        return b"".join(lines)


def _answer(response: InternalResponse) -> tuple[bool, dict[str, Any]]:
    """Whether the request succeeded, and its answer (the response or its ``error`` status)."""
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


class GeminiBatchService:
    """Gemini batches of one worker, bounded by ``batches.max_batches``."""

    def __init__(self, sim: Simulator, runner: BatchRunner, config: BatchesConfig, files: GeminiFiles) -> None:
        self.sim = sim
        self.runner = runner
        self.config = config
        self.files = files
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

    def create(self, request: HttpRequest, model: str, kind: BatchKind) -> GeminiBatch:
        """Validate a create body (``kind``'s method on ``model``) and start the batch."""
        version = api_version(request.path)
        spec = require_model(self.sim, model, kind.action, version, embedding=kind.embedding)
        reported = spec.id if spec.provider == PROVIDER else model
        read = read_create(parse_object(request.body), self.files, self.config.max_requests_per_batch)
        self._make_room()
        name = "batches/" + IDS.token(40).lower()
        batch = GeminiBatch(
            name,
            reported,
            kind,
            read.display_name,
            [item.label for item in read.items],
            self.sim.clock.wall(),
            forwarded_headers(request.headers),
            base_url(request),
            version,
            read.source.name if read.source is not None else None,
        )
        for index, item in enumerate(read.items):
            if item.body is None:  # a bad line of the input file: its error is its answer
                batch.answers[index] = {"error": {"code": 3, "message": item.error}}
                batch.failed += 1
        self.batches[name] = batch
        path = f"/{version}/models/{model}:{kind.line_action}"
        lines = [
            LineRequest(i, path, orjson.dumps(item.body)) for i, item in enumerate(read.items) if item.body is not None
        ]
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
        self._finish(batch, CANCELLED)
        if batch.task is not None:
            batch.task.cancel()

    def delete(self, batch_id: str) -> None:
        """Forget a batch (cancelling it first if it runs; its results file stays)."""
        self.cancel(batch_id)
        del self.batches[f"batches/{batch_id}"]

    def _finish(self, batch: GeminiBatch, state: str) -> None:
        """End ``batch`` in ``state``; a batch read from a file writes its results file."""
        batch.state = state
        batch.updated = batch.ended = self.sim.clock.wall()
        if batch.source is None:
            return
        batch_id = batch.name.removeprefix("batches/")
        results = GeminiFile(
            "batch-" + batch_id,
            f"batch-{batch_id}-results",
            "application/jsonl",
            batch.results(),
            batch.ended,
            generated=True,
            base=batch.base,
            version=batch.version,
        )
        try:
            batch.results_file = self.files.add(results).name
        except SimulatorError as exc:  # no room for the results: the batch fails, saying why
            batch.state = FAILED
            batch.error = {"code": RPC_CODES["RESOURCE_EXHAUSTED"], "message": f"Results not stored: {exc.message}"}

    async def _run(self, batch: GeminiBatch, lines: list[LineRequest]) -> None:
        def done(line: LineRequest, response: InternalResponse) -> None:
            if batch.state in DONE:
                return  # ended meanwhile (cancelled): its output is written already
            ok, answer = _answer(response)
            batch.answers[line.index] = answer
            batch.failed += 0 if ok else 1
            batch.updated = self.sim.clock.wall()

        window = EXPIRY_S * self.config.time_scale
        try:
            # time_scale 0 makes the phases instant; it must not make every batch expire at once.
            async with asyncio.timeout(window if window > 0 else None):
                await self.runner.phase(self.config.validating_s)
                batch.state = "BATCH_STATE_RUNNING"
                batch.updated = self.sim.clock.wall()
                await self.runner.run_lines(lines, batch.headers, done)
                await self.runner.phase(self.config.finalizing_s)
        except TimeoutError:
            self._finish(batch, EXPIRED)
            return
        self._finish(batch, SUCCEEDED)


async def create(service: GeminiBatchService, request: HttpRequest, model: str, action: str) -> Response:
    """Serve ``POST /{version}/models/{model}:batchGenerateContent`` and ``:asyncBatchEmbedContent``."""
    return json_response(service.create(request, model, KINDS[action]).describe())


async def get(service: GeminiBatchService, request: HttpRequest) -> Response:
    """Serve ``GET /{version}/batches/{batch_id}``."""
    return json_response(service.require(request.path_params["batch_id"]).describe())


async def delete(service: GeminiBatchService, request: HttpRequest) -> Response:
    """Serve ``DELETE /{version}/batches/{batch_id}`` (an empty object, as the API answers)."""
    service.delete(request.path_params["batch_id"])
    return json_response({})


async def action(service: GeminiBatchService, request: HttpRequest) -> Response:
    """Serve ``POST /{version}/batches/{batch_id}:cancel`` (the only action on a batch)."""
    target = request.path_params["batch_action"]
    batch_id, sep, verb = target.rpartition(":")
    if not sep or verb != "cancel":
        raise SimulatorError(
            ErrorKind.NOT_FOUND, f"Method not found: '{verb or target}' is not a method of batches. Supported: cancel"
        )
    service.cancel(batch_id)
    return json_response({})


async def list_batches(service: GeminiBatchService, request: HttpRequest) -> Response:
    """Serve ``GET /{version}/batches`` (newest first; ``pageSize``, ``pageToken``)."""
    batches = list(reversed(service.batches.values()))
    shown, following = page(
        batches, request.query, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, lambda b: b.name.removeprefix("batches/")
    )
    body: dict[str, Any] = {"operations": [b.describe() for b in shown]}
    if following is not None:
        body["nextPageToken"] = following
    return json_response(body)
