"""Per-provider request building and incremental stream parsing for the load generator.

Everything here works against any OpenAI-, Anthropic-, Gemini-, Ollama- or Bedrock-compatible server, not only
the simulator, so it deliberately knows nothing about the simulator's internals: it speaks
the public wire formats (see ``docs/benchmark.md`` for the exact event definitions).

One request is prepared once per run (URL, headers and an orjson-encoded body) and sent many
times, so the per-request client work is the HTTP exchange and the parsing of what comes back.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx
import orjson

from llm_simulator.infra.sse import SseDecoder
from llm_simulator.loadgen.streams import (
    STREAM_STATES,
    BedrockStream,
    StreamState,
    error_kind,
    loads_object,
    short_detail,
    usage_output_tokens,
)
from llm_simulator.wire.defaults import LOAD_API_KEY_ENV, LoadProvider
from llm_simulator.wire.eventstream import EventStreamDecoder, EventStreamError
from llm_simulator.wire.http import auth_headers

DUMMY_API_KEY = "sk-llm-simulator-benchmark"
DEFAULT_PROMPT = "Write a short story about a lighthouse keeper who learns to paint."
# Error texts are kept for the CSV; a whole HTML error page would bloat it.


@dataclass(frozen=True)
class RequestSpec:
    """What every request of a run asks for.

    ``base_url`` is the server root (``http://127.0.0.1:8080``); a trailing ``/v1`` (OpenAI),
    ``/v1beta`` (Gemini) or ``/api`` (Ollama) is accepted too, so an SDK-style base URL works unchanged.
    """

    provider: LoadProvider
    base_url: str
    model: str
    prompt: str = DEFAULT_PROMPT
    max_tokens: int = 64
    stream: bool = True
    api_key: str = DUMMY_API_KEY
    headers: tuple[tuple[str, str], ...] = ()
    # Newer OpenAI reasoning models reject ``max_tokens``; most compatible servers take both.
    max_tokens_field: str = "max_tokens"


@dataclass(frozen=True)
class PreparedRequest:
    """A request ready to send again and again: method, URL, headers and body bytes."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    stream: bool
    provider: LoadProvider


@dataclass
class RequestResult:
    """The outcome of one request, times in seconds.

    ``start`` is the send time relative to the start of the measured run; ``ttft`` is the
    time from send to the first content event (streams only); ``itls`` the gaps between
    consecutive content events; ``e2e`` the time from send to the end of the response.
    ``status`` is the HTTP status (0 when no response arrived). ``error`` is None on success,
    else a short kind (``server_error``, ``http_503``, ``timeout``, ``stream:overloaded_error``…) with a
    human-readable ``detail``.
    """

    start: float
    status: int = 0
    ttft: float | None = None
    e2e: float = 0.0
    itls: list[float] = field(default_factory=list)
    output_tokens: int = 0
    token_source: Literal["usage", "events", "none"] = "none"
    content_events: int = 0
    error: str | None = None
    detail: str = ""
    schedule_lag: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the request succeeded (2xx, complete stream, no in-stream error)."""
        return self.error is None


def _strip_suffix(url: str, suffix: str) -> str:
    return url[: -len(suffix)] if url.endswith(suffix) else url


def endpoint_url(spec: RequestSpec) -> str:
    """The full URL one request of ``spec`` is sent to."""
    base = spec.base_url.rstrip("/")
    if spec.provider == "openai":
        return _strip_suffix(base, "/v1") + "/v1/chat/completions"
    if spec.provider == "anthropic":
        return _strip_suffix(base, "/v1") + "/v1/messages"
    if spec.provider == "ollama":
        return _strip_suffix(base, "/api") + "/api/chat"
    if spec.provider == "bedrock":
        # botocore's encoding of the model id: every reserved character (``:``, ``/``).
        operation = "converse-stream" if spec.stream else "converse"
        return f"{base}/model/{quote(spec.model, safe='')}/{operation}"
    model = spec.model.removeprefix("models/")
    action = "streamGenerateContent?alt=sse" if spec.stream else "generateContent"
    return f"{_strip_suffix(base, '/v1beta')}/v1beta/models/{model}:{action}"


def build_body(spec: RequestSpec) -> dict[str, Any]:
    """The JSON body of one request, in the provider's wire shape."""
    if spec.provider == "openai":
        body: dict[str, Any] = {
            "model": spec.model,
            "messages": [{"role": "user", "content": spec.prompt}],
            spec.max_tokens_field: spec.max_tokens,
        }
        if spec.stream:
            # Ask for the usage-only final chunk so output tokens come from the server.
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body
    if spec.provider == "anthropic":
        body = {
            "model": spec.model,
            "max_tokens": spec.max_tokens,
            "messages": [{"role": "user", "content": spec.prompt}],
        }
        if spec.stream:
            body["stream"] = True
        return body
    if spec.provider == "ollama":
        # Ollama streams unless told not to; num_predict caps the output.
        return {
            "model": spec.model,
            "messages": [{"role": "user", "content": spec.prompt}],
            "stream": spec.stream,
            "options": {"num_predict": spec.max_tokens},
        }
    if spec.provider == "bedrock":  # Converse: streaming is chosen by the path
        return {
            "messages": [{"role": "user", "content": [{"text": spec.prompt}]}],
            "inferenceConfig": {"maxTokens": spec.max_tokens},
        }
    # Gemini chooses streaming by URL, not by a body field.
    return {
        "contents": [{"role": "user", "parts": [{"text": spec.prompt}]}],
        "generationConfig": {"maxOutputTokens": spec.max_tokens},
    }


def build_headers(spec: RequestSpec) -> dict[str, str]:
    """Auth and content headers of the provider, then the user's extra headers (which win)."""
    headers = {"content-type": "application/json", **auth_headers(spec.provider, spec.api_key)}
    if spec.stream and spec.provider != "bedrock":  # Bedrock streams are event-stream framed
        headers["accept"] = "application/x-ndjson" if spec.provider == "ollama" else "text/event-stream"
    for key, value in spec.headers:
        headers[key.lower()] = value
    return headers


def prepare(spec: RequestSpec) -> PreparedRequest:
    """Build the URL, headers and body once for a whole run."""
    return PreparedRequest(
        url=endpoint_url(spec),
        headers=build_headers(spec),
        body=orjson.dumps(build_body(spec)),
        stream=spec.stream,
        provider=spec.provider,
    )


def api_key_from_env(provider: LoadProvider, environ: Mapping[str, str] | None = None) -> str:
    """The provider's conventional API key variable, else a dummy key (the simulator takes any)."""
    env = os.environ if environ is None else environ
    return env.get(LOAD_API_KEY_ENV[provider]) or DUMMY_API_KEY


def transport_error_kind(exc: BaseException) -> str:
    """A short kind for an exception raised while sending or receiving."""
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect_error"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "protocol_error"
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        return "read_error"
    if isinstance(exc, httpx.TransportError):
        return "transport_error"
    return type(exc).__name__


async def send(
    client: httpx.AsyncClient, prepared: PreparedRequest, run_start: float, time_limit: float
) -> RequestResult:
    """Send one request and measure it; never raises for HTTP, stream or transport failures.

    ``time_limit`` (seconds) bounds the whole exchange (headers and the entire stream), not only each
    read, so a server that trickles bytes forever still ends the request.
    """
    sent = time.perf_counter()
    result = RequestResult(start=sent - run_start)
    try:
        async with asyncio.timeout(time_limit):
            if prepared.stream:
                await _send_stream(client, prepared, sent, result)
            else:
                await _send_plain(client, prepared, sent, result)
    except (httpx.HTTPError, TimeoutError, OSError) as exc:
        result.error = transport_error_kind(exc)
        result.detail = short_detail(str(exc) or type(exc).__name__)
        result.e2e = time.perf_counter() - sent
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
        # A body or chunk of an unexpected shape (a proxy's page, another API): this request
        # failed, the run goes on.
        result.error = "malformed_response"
        result.detail = short_detail(f"{type(exc).__name__}: {exc}")
        result.e2e = time.perf_counter() - sent
    return result


async def _send_plain(client: httpx.AsyncClient, prepared: PreparedRequest, sent: float, result: RequestResult) -> None:
    response = await client.post(prepared.url, content=prepared.body, headers=prepared.headers)
    result.e2e = time.perf_counter() - sent
    result.status = response.status_code
    if not 200 <= response.status_code < 300:
        aws_type = response.headers.get("x-amzn-errortype")
        result.error, result.detail = error_kind(response.status_code, response.content, aws_type)
        return
    tokens = usage_output_tokens(prepared.provider, loads_object(response.content))
    if tokens is not None:
        result.output_tokens, result.token_source = tokens, "usage"


async def _send_stream(
    client: httpx.AsyncClient, prepared: PreparedRequest, sent: float, result: RequestResult
) -> None:
    request = client.build_request("POST", prepared.url, content=prepared.body, headers=prepared.headers)
    response = await client.send(request, stream=True)
    try:
        result.status = response.status_code
        if not 200 <= response.status_code < 300:
            body = await response.aread()
            result.e2e = time.perf_counter() - sent
            aws_type = response.headers.get("x-amzn-errortype")
            result.error, result.detail = error_kind(response.status_code, body, aws_type)
            return
        state = STREAM_STATES[prepared.provider]()
        perf_counter = time.perf_counter
        if prepared.provider == "ollama":
            # NDJSON, not SSE: every non-empty line is one message.
            async for line in response.aiter_lines():
                if line:
                    state.on_event("", line, perf_counter())
        elif isinstance(state, BedrockStream):
            await _read_event_stream(response, state)
        else:
            decoder = SseDecoder()
            async for line in response.aiter_lines():
                event = decoder.feed(line)
                if event is not None:
                    state.on_event(event[0], event[1], perf_counter())
            tail = decoder.flush()
            if tail is not None:
                state.on_event(tail[0], tail[1], perf_counter())
        result.e2e = perf_counter() - sent
    finally:
        await response.aclose()
    _finish_stream(state, sent, result)


async def _read_event_stream(response: httpx.Response, state: BedrockStream) -> None:
    """Feed an event-stream body to ``state`` message by message; a broken frame is an in-stream error."""
    decoder = EventStreamDecoder()
    perf_counter = time.perf_counter
    async for data in response.aiter_bytes():
        try:
            messages = decoder.feed(data)
        except EventStreamError as exc:
            state.note_error(str(exc), "malformed_chunk")
            return
        now = perf_counter()
        for message in messages:
            state.on_message(message, now)


def _finish_stream(state: StreamState, sent: float, result: RequestResult) -> None:
    result.content_events = state.content_events
    if state.first is not None:
        result.ttft = state.first - sent
        result.itls = state.itls
    if state.usage_tokens is not None:
        result.output_tokens, result.token_source = state.usage_tokens, "usage"
    else:
        result.output_tokens, result.token_source = state.content_events, "events"
    if state.error is not None:
        result.error, result.detail = state.error, state.error_detail
    elif not state.done:
        result.error, result.detail = "incomplete_stream", "the stream ended without its final event"


def parse_headers(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``K:V`` strings (``--header``) as pairs; raises ValueError naming a malformed one."""
    pairs: list[tuple[str, str]] = []
    for raw in values:
        key, sep, value = raw.partition(":")
        if not sep or not key.strip():
            raise ValueError(f"--header {raw!r}: expected NAME:VALUE")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)
