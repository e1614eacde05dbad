"""Anthropic's Message Batches: ``/v1/messages/batches`` (create, retrieve, list, cancel, results, delete).

A batch is ``in_progress`` until every request has an answer, then ``ended``; cancelling
moves it through ``canceling`` to ``ended`` with the unanswered requests ``canceled``, and
a batch still processing when its window closes (``expires_at``: 24 h, or
``batches.completion_window_s`` × ``batches.time_scale``) ends with them ``expired``. An
ended batch is kept 29 days after its creation, as the API keeps its results. Each
request's ``params`` is sent through the app itself as a ``POST /v1/messages`` with the
creating request's headers (``batch_runner``), so its result is what a live request would
have got. As on the API, ``request_counts`` tally only ``processing`` until the batch ends,
and the results (JSONL at ``results_url``, absolute on the serving host) exist once it has.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from llm_simulator.config.schema import BatchesConfig
from llm_simulator.core.errors import ErrorKind, SimulatorError, invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, Response
from llm_simulator.infra.clock import Clock
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.anthropic.common import json_headers
from llm_simulator.providers.batch_runner import BatchRunner, LineRequest, forwarded_headers, make_room
from llm_simulator.providers.internal import InternalResponse
from llm_simulator.providers.validation import JsonObject, parse_object

CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# The API keeps a batch's results for 29 days after its creation; an ended batch is then gone.
RETENTION_S = 29 * 24 * 3600
DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 1000
PATH = "/v1/messages/batches"


def rfc3339(seconds: float | None) -> str | None:
    """A wall-clock time as the API writes it (``2024-08-20T18:37:24.100435Z``)."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class MessageBatch:
    """One message batch's state."""

    id: str
    custom_ids: list[str]
    created_at: float
    headers: dict[str, str]
    results_url: str
    # When the processing window closes (``batches.completion_window_s`` × ``time_scale``).
    expires_at: float
    status: str = "in_progress"
    ended_at: float | None = None
    cancel_initiated_at: float | None = None
    # custom_id → its result line (written as answers come; the rest are ``leftover`` at the
    # end: canceled, or expired when the window closed on them).
    results: dict[str, bytes] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"succeeded": 0, "errored": 0, "canceled": 0, "expired": 0})
    leftover: str = "canceled"
    task: asyncio.Task[None] | None = None

    def describe(self) -> dict[str, object]:
        """The ``message_batch`` object."""
        ended = self.status == "ended"
        counts = self.counts if ended else {"succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.status,
            "request_counts": {
                "processing": 0 if ended else len(self.custom_ids),
                "succeeded": counts["succeeded"],
                "errored": counts["errored"],
                "canceled": counts["canceled"],
                "expired": counts["expired"],
            },
            "ended_at": rfc3339(self.ended_at),
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.expires_at),
            "archived_at": None,
            "cancel_initiated_at": rfc3339(self.cancel_initiated_at),
            "results_url": self.results_url if ended else None,
        }

    def results_jsonl(self) -> bytes:
        """The results file: one line per request, in request order."""
        leftover = b'{"type":"' + self.leftover.encode() + b'"}'
        lines = []
        for custom_id in self.custom_ids:
            line = self.results.get(custom_id)
            if line is None:
                line = b'{"custom_id":' + orjson.dumps(custom_id) + b',"result":' + leftover + b"}"
            lines.append(line + b"\n")
        return b"".join(lines)


def _result_line(custom_id: str, answer: InternalResponse) -> tuple[str, bytes]:
    """The result kind and its JSONL line (a message, or the error body the request got)."""
    try:
        payload: Any = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        payload = None
    if answer.status < 400 and isinstance(payload, dict):
        result: dict[str, object] = {"type": "succeeded", "message": payload}
    else:
        if not (isinstance(payload, dict) and payload.get("type") == "error"):
            message = f"The request failed with status {answer.status}."
            payload = {"type": "error", "error": {"type": "api_error", "message": message}, "request_id": None}
        result = {"type": "errored", "error": payload}
    kind = str(result["type"])
    return kind, orjson.dumps({"custom_id": custom_id, "result": result})


def _results_url(request: HttpRequest, batch_id: str) -> str:
    """The absolute URL of a batch's results on the host that served the create request."""
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or "localhost"
    scheme = request.headers.get("x-forwarded-proto") or "http"
    return f"{scheme}://{host}{PATH}/{batch_id}/results"


def _check_requests(body: JsonObject, max_requests: int) -> list[tuple[str, JsonObject]]:
    """The batch's ``(custom_id, params)`` pairs, or the API's 400."""
    requests = body.get("requests")
    if "requests" not in body:
        raise invalid("requests: Field required", param="requests")
    if not isinstance(requests, list):
        raise invalid("requests: Input should be a valid list", param="requests")
    if not requests:
        raise invalid("requests: List should have at least 1 item after validation, not 0", param="requests")
    if len(requests) > max_requests:
        raise invalid(
            f"requests: List should have at most {max_requests} items after validation, not {len(requests)}",
            param="requests",
        )
    seen: set[str] = set()
    pairs: list[tuple[str, JsonObject]] = []
    for n, item in enumerate(requests):
        if not isinstance(item, dict):
            raise invalid(f"requests.{n}: Input should be a valid dictionary", param="requests")
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str):
            raise invalid(f"requests.{n}.custom_id: Field required", param="requests")
        if not CUSTOM_ID.match(custom_id):
            raise invalid(
                f"requests.{n}.custom_id: String should match pattern '{CUSTOM_ID.pattern}'", param="requests"
            )
        if custom_id in seen:
            raise invalid(
                f"Found duplicate custom_id '{custom_id}'. custom_id values must be unique within a batch.",
                param="requests",
            )
        seen.add(custom_id)
        params = item.get("params")
        if not isinstance(params, dict):
            raise invalid(f"requests.{n}.params: Input should be a valid dictionary", param="requests")
        if params.get("stream") is True:
            raise invalid(
                f"requests.{n}.params.stream: Streaming is not supported in the Message Batches API.",
                param="requests",
            )
        pairs.append((custom_id, params))
    return pairs


class MessageBatchService:
    """Message batches of one worker, bounded by ``batches.max_batches``."""

    def __init__(self, clock: Clock, runner: BatchRunner, config: BatchesConfig) -> None:
        self.clock = clock
        self.runner = runner
        self.config = config
        self.batches: OrderedDict[str, MessageBatch] = OrderedDict()

    def _make_room(self) -> None:
        make_room(
            self.batches,
            self.config.max_batches,
            lambda batch: batch.status == "ended",
            lambda: SimulatorError(
                ErrorKind.RATE_LIMIT,
                f"Too many message batches in progress: the simulator keeps at most {self.config.max_batches} "
                "(batches.max_batches). Wait for some to end and try again.",
                should_retry=False,
            ),
        )

    def _forget_old(self) -> None:
        """Forget ended batches created more than ``RETENTION_S`` ago (the API's 29 days; checked lazily)."""
        horizon = self.clock.wall() - RETENTION_S
        for batch_id in [b.id for b in self.batches.values() if b.status == "ended" and b.created_at < horizon]:
            del self.batches[batch_id]

    def listed(self) -> list[MessageBatch]:
        """The batches kept, newest first."""
        self._forget_old()
        return list(reversed(self.batches.values()))

    def create(self, request: HttpRequest) -> MessageBatch:
        """Validate a create request and start the batch."""
        pairs = _check_requests(parse_object(request.body), self.config.max_requests_per_batch)
        self._forget_old()
        self._make_room()
        batch_id = "msgbatch_01" + IDS.token(22)
        created_at = self.clock.wall()
        batch = MessageBatch(
            batch_id,
            [custom_id for custom_id, _ in pairs],
            created_at,
            forwarded_headers(request.headers),
            _results_url(request, batch_id),
            self.runner.expires_at(created_at),
        )
        self.batches[batch.id] = batch
        lines = [LineRequest(i, "/v1/messages", orjson.dumps(params)) for i, (_, params) in enumerate(pairs)]
        batch.task = self.runner.start(self._run(batch, lines))
        return batch

    def require(self, batch_id: str) -> MessageBatch:
        """The batch, or the API's 404 (also once an ended batch's 29 days have passed)."""
        self._forget_old()
        batch = self.batches.get(batch_id)
        if batch is None:
            raise SimulatorError(ErrorKind.NOT_FOUND, f"message_batch_id: no message batch found with id {batch_id}")
        return batch

    def cancel(self, batch_id: str) -> MessageBatch:
        """Start canceling a batch in progress (an ended or canceling batch is returned as it is)."""
        batch = self.require(batch_id)
        if batch.status != "in_progress":
            return batch
        batch.status = "canceling"
        batch.cancel_initiated_at = self.clock.wall()
        if batch.task is not None:
            batch.task.cancel()
        return batch

    def delete(self, batch_id: str) -> MessageBatch:
        """Forget an ended batch; 400 while it is still processing."""
        batch = self.require(batch_id)
        if batch.status != "ended":
            raise invalid(
                f"Message batch {batch_id} cannot be deleted while it is still processing. Cancel it first, "
                "then delete it once it has ended."
            )
        del self.batches[batch_id]
        return batch

    async def _run(self, batch: MessageBatch, lines: list[LineRequest]) -> None:
        def done(line: LineRequest, answer: InternalResponse) -> None:
            custom_id = batch.custom_ids[line.index]
            kind, text = _result_line(custom_id, answer)
            batch.results[custom_id] = text
            batch.counts[kind] += 1

        window = self.runner.window()
        try:
            try:
                async with window:
                    await self.runner.phase(self.config.validating_s)
                    await self.runner.run_lines(lines, batch.headers, done)
            except TimeoutError:
                if not window.expired():
                    raise
                batch.leftover = "expired"  # the window closed on the requests not yet answered
            await self.runner.phase(self.config.finalizing_s)
        except asyncio.CancelledError:
            if batch.status != "canceling":
                raise
            await self.runner.phase(self.config.finalizing_s)
        batch.counts[batch.leftover] = len(batch.custom_ids) - len(batch.results)
        batch.status = "ended"
        batch.ended_at = self.clock.wall()


def _json(body: object, request: HttpRequest) -> JsonResponse:
    return JsonResponse(200, orjson.dumps(body), json_headers(request))


async def create(service: MessageBatchService, request: HttpRequest) -> Response:
    """Serve ``POST /v1/messages/batches``."""
    return _json(service.create(request).describe(), request)


async def retrieve(service: MessageBatchService, request: HttpRequest) -> Response:
    """Serve ``GET /v1/messages/batches/{message_batch_id}``."""
    return _json(service.require(request.path_params["message_batch_id"]).describe(), request)


async def cancel(service: MessageBatchService, request: HttpRequest) -> Response:
    """Serve ``POST /v1/messages/batches/{message_batch_id}/cancel``."""
    return _json(service.cancel(request.path_params["message_batch_id"]).describe(), request)


async def delete(service: MessageBatchService, request: HttpRequest) -> Response:
    """Serve ``DELETE /v1/messages/batches/{message_batch_id}``."""
    batch = service.delete(request.path_params["message_batch_id"])
    return _json({"id": batch.id, "type": "message_batch_deleted"}, request)


async def results(service: MessageBatchService, request: HttpRequest) -> Response:
    """Serve ``GET /v1/messages/batches/{message_batch_id}/results`` (JSONL, once the batch has ended)."""
    batch = service.require(request.path_params["message_batch_id"])
    if batch.status != "ended":
        raise SimulatorError(
            ErrorKind.NOT_FOUND,
            f"Results for message batch {batch.id} are not available yet: its processing has not ended.",
        )
    request_id = request.request_id.encode()
    headers = [(b"content-type", b"application/binary"), (b"request-id", request_id), (b"x-request-id", request_id)]
    return JsonResponse(200, batch.results_jsonl(), headers)


def _limit(request: HttpRequest) -> int:
    raw = request.query.get("limit", str(DEFAULT_LIST_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        message = f"limit: Input should be a valid integer, unable to parse string as an integer: {raw!r}"
        raise invalid(message) from None
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise invalid(f"limit: Input should be between 1 and {MAX_LIST_LIMIT}, got {limit}")
    return limit


async def list_batches(service: MessageBatchService, request: HttpRequest) -> Response:
    """Serve ``GET /v1/messages/batches`` (newest first; ``after_id``, ``before_id``, ``limit``)."""
    limit = _limit(request)
    newest_first = service.listed()
    ids = [b.id for b in newest_first]
    after, before = request.query.get("after_id"), request.query.get("before_id")
    if after and before:
        raise invalid("Only one of before_id and after_id may be given.")
    if before:
        end = ids.index(before) if before in ids else 0
        page = newest_first[max(0, end - limit) : end]
        has_more = end - limit > 0
    else:
        start = ids.index(after) + 1 if after and after in ids else (len(ids) if after else 0)
        page = newest_first[start : start + limit]
        has_more = start + limit < len(ids)
    return _json(
        {
            "data": [b.describe() for b in page],
            "has_more": has_more,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
        },
        request,
    )
