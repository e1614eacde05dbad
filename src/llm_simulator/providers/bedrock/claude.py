"""InvokeModel with an Anthropic body: Claude's Messages API as Bedrock carries it.

The body is the Messages request without ``model`` (the URL names it) or ``stream`` (the
path decides), plus ``anthropic_version: "bedrock-2023-05-31"`` (or a dated API version, as
newer Anthropic SDKs send) and optionally ``anthropic_beta``. It is read by the Anthropic
provider's own parser and answered with its own ``message`` object and event sequence, so
Claude behaves on Bedrock exactly as on Anthropic's API; a stream carries each Messages
event as a ``chunk`` (no ``ping``), the last one with ``amazon-bedrock-invocationMetrics``
added.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator

import orjson

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import HttpRequest, JsonResponse, StreamResponse
from llm_simulator.core.types import GenerationPlan, GenerationRequest
from llm_simulator.engine.simulator import Simulator
from llm_simulator.engine.timing import Timeline
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.anthropic.messages import (
    EventWriter,
    MessagesRequest,
    message_object,
    parse_request,
    stream_events,
)
from llm_simulator.providers.bedrock.answer import INVOKE_STREAM_CONTENT_TYPE, BedrockAnswer
from llm_simulator.providers.bedrock.frames import chunk_frame, invocation_metrics, invoke_headers
from llm_simulator.providers.bedrock.models import BedrockModel
from llm_simulator.providers.validation import JsonObject

BEDROCK_VERSION = "bedrock-2023-05-31"
# Newer Anthropic SDKs send their own dated API version (``2026-10-21``) in the body instead.
_DATED_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
# Fields of the first-party API that Bedrock's body must not carry.
_NOT_PERMITTED = ("model", "stream")
_DATA = b"\ndata: "
_PING = b"event: ping\n"
_STOP = b"event: message_stop\n"


def _malformed(reason: str) -> Exception:
    return invalid(f"Malformed input request: {reason}, please reformat your input and try again.")


def parse_claude(sim: Simulator, request: HttpRequest, body: JsonObject, model: BedrockModel) -> MessagesRequest:
    """Check Bedrock's envelope (``anthropic_version``, no ``model``/``stream``), then parse as Messages.

    Works on a copy: a parse may be run again off the event loop (``off_loop``).
    """
    body = dict(body)
    version = body.pop("anthropic_version", None)
    if version is None:
        raise _malformed("#: required key [anthropic_version] not found")
    if version != BEDROCK_VERSION and not (isinstance(version, str) and _DATED_VERSION.fullmatch(version)):
        raise _malformed(f"#/anthropic_version: {orjson.dumps(version).decode()} is not a valid enum value")
    betas = body.pop("anthropic_beta", None)
    if isinstance(betas, list) and all(isinstance(beta, str) for beta in betas):
        # Bedrock's body field carries what the ``anthropic-beta`` header carries on Anthropic's
        # API (a beta that raises the model's limits among them): handed on as that header.
        headers = {**request.headers, "anthropic-beta": ",".join(betas)}
        request = dataclasses.replace(request, headers=headers)
    for key in _NOT_PERMITTED:
        if key in body:
            raise _malformed(f"#: extraneous key [{key}] is not permitted")
    body["model"] = model.spec.id
    return parse_request(sim, request, body)


def _chunks(sse: bytes) -> list[bytes]:
    """The JSON payloads of the Messages events in ``sse`` (whole frames), ``ping`` left out."""
    payloads = []
    for frame in sse.split(b"\n\n"):
        if frame and not frame.startswith(_PING):
            payloads.append(frame[frame.index(_DATA) + len(_DATA) :])
    return payloads


async def claude_chunks(
    answer: BedrockAnswer, plan: GenerationPlan, timeline: Timeline, writer: EventWriter
) -> AsyncIterator[bytes]:
    """The Messages events as ``chunk`` frames; ``message_stop`` gains the invocation metrics."""
    first_byte = None
    async for sse in stream_events(answer.sim, plan, timeline, writer):
        if first_byte is None:
            first_byte = answer.elapsed()
        out = b""
        for payload in _chunks(sse):
            if payload.startswith(b'{"type":"message_stop"'):
                metrics = invocation_metrics(
                    plan.request.prompt_tokens, plan.completion_tokens, answer.elapsed(), first_byte
                )
                out += chunk_frame(orjson.dumps({"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics}))
            else:
                out += chunk_frame(payload)
        yield out


class ClaudeAnswer(BedrockAnswer):
    """How an Anthropic-body InvokeModel is answered: a ``message`` or its events as chunks."""

    __slots__ = ("_id",)

    def __init__(self, sim: Simulator, request: HttpRequest) -> None:
        super().__init__(sim, request)
        self._id = ""

    @staticmethod
    def seed_identity(gen: GenerationRequest) -> tuple[object, ...]:
        """Model, messages and ``max_tokens`` (as on Anthropic's API)."""
        return gen.model, gen.messages, gen.max_tokens

    def begin(self, plan: GenerationPlan) -> None:
        """The message id (Bedrock's ``msg_bdrk_…``)."""
        self._id = "msg_bdrk_01" + IDS.token(22)

    def stream(self, plan: GenerationPlan, timeline: Timeline) -> StreamResponse:
        """``message_start`` … ``message_stop``, each a ``chunk``."""
        chunks = claude_chunks(self, plan, timeline, EventWriter(plan, self._id))
        return self.event_stream(chunks, INVOKE_STREAM_CONTENT_TYPE)

    def render(self, plan: GenerationPlan) -> JsonResponse:
        """The ``message`` object, with Bedrock's token-count headers."""
        body = orjson.dumps(message_object(plan, self._id, final=True))
        headers = invoke_headers(self._request, plan.request.prompt_tokens, plan.completion_tokens, self.elapsed())
        return JsonResponse(200, body, headers)
