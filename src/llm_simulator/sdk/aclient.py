"""The asynchronous client: the same API as ``Client``, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar, Unpack, overload

import httpx

from llm_simulator.infra.retry import RetryPolicy, aretry
from llm_simulator.infra.sse import SseDecoder
from llm_simulator.sdk import _admin
from llm_simulator.sdk._admin import NOT_GIVEN, AdminCall, Json, NotGiven
from llm_simulator.sdk._base import (
    DEFAULT_BASE_URL,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT_S,
    ClientBase,
    connection_error,
    raise_for_status,
)
from llm_simulator.sdk._wire import StreamParser, parse_chat, parse_embeddings
from llm_simulator.sdk.errors import APIConnectionError, decoded
from llm_simulator.sdk.journal import Journal, JournalFilters
from llm_simulator.sdk.lineage import Lineage
from llm_simulator.sdk.types import ChatResult, Prompt, Provider, StreamEvent

__all__ = ["AsyncAdmin", "AsyncClient", "AsyncStream"]

T = TypeVar("T")


class AsyncClient(ClientBase):
    """The async twin of ``Client``: same arguments, same behaviour, ``await``-ed calls.

    ``sleep`` (default ``asyncio.sleep``) waits between retries; ``transport`` takes an
    ``httpx`` async transport (``httpx.MockTransport`` works for both). Use ``async with``
    or ``await client.aclose()``. ``test_id`` puts every request in that test scope.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        admin_key: str | None = None,
        provider: str = "openai",
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = DEFAULT_RETRY,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        test_id: str | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        super().__init__(
            base_url,
            api_key=api_key,
            admin_key=admin_key,
            provider=provider,
            timeout=timeout,
            retry=retry,
            headers=headers,
            test_id=test_id,
        )
        self._sleep = sleep
        self._http = httpx.AsyncClient(transport=transport, **self._httpx_options())
        self.admin = AsyncAdmin(self)
        """The admin API namespace."""

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _attempt(
        self, request: httpx.Request, *, stream: bool, accept: frozenset[int] = frozenset()
    ) -> httpx.Response:
        """One try: send, raise the typed error of a failed answer, read the body unless streaming."""
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise connection_error(exc) from exc
        try:
            if stream and response.status_code < 400:
                return response
            await response.aread()
        except httpx.TransportError as exc:
            await response.aclose()
            raise connection_error(exc) from exc
        await response.aclose()
        raise_for_status(response, accept)
        return response

    async def _retried(self, fn: Callable[[], Awaitable[T]]) -> T:
        return await aretry(fn, self.retry_policy, sleep=self._sleep)

    async def _admin(self, call: AdminCall[T]) -> T:
        request = self._admin_request(self._http, call)
        response = await self._retried(lambda: self._attempt(request, stream=False, accept=call.accept))
        return call.parse(response.status_code, response.content, response.headers)

    async def chat(
        self,
        prompt_or_messages: Prompt,
        *,
        model: str | None = None,
        max_tokens: int | None = None,
        provider: str | None = None,
        seed: int | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> ChatResult:
        """One complete chat answer (see ``Client.chat``)."""
        chosen, name, wire = self._chat_wire(
            prompt_or_messages,
            model=model,
            max_tokens=max_tokens,
            provider=provider,
            seed=seed,
            stream=False,
            extra=extra,
        )
        request = self._api_request(self._http, chosen, wire, headers)
        response = await self._retried(lambda: self._attempt(request, stream=False))
        return decoded(response.status_code, lambda: parse_chat(chosen, response.json(), name))

    def stream(
        self,
        prompt_or_messages: Prompt,
        *,
        model: str | None = None,
        max_tokens: int | None = None,
        provider: str | None = None,
        seed: int | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> AsyncStream:
        """A streamed chat answer to ``async for`` over (see ``Client.stream``); not awaited itself."""
        chosen, name, wire = self._chat_wire(
            prompt_or_messages,
            model=model,
            max_tokens=max_tokens,
            provider=provider,
            seed=seed,
            stream=True,
            extra=extra,
        )
        request = self._api_request(self._http, chosen, wire, headers)
        return AsyncStream(lambda: self._retried(lambda: self._attempt(request, stream=True)), chosen, name)

    async def embed(
        self,
        texts: Sequence[str],
        *,
        model: str | None = None,
        provider: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> list[list[float]]:
        """One vector per text (see ``Client.embed``)."""
        chosen, wire = self._embed_wire(texts, model=model, provider=provider)
        request = self._api_request(self._http, chosen, wire, headers)
        response = await self._retried(lambda: self._attempt(request, stream=False))
        return decoded(response.status_code, lambda: parse_embeddings(chosen, response.json()))

    async def journal(self, **filters: Unpack[JournalFilters]) -> Journal:
        """The journal of this client's test scope (``admin.journal``)."""
        return await self.admin.journal(**filters)


class AsyncStream:
    """A streamed answer: an async iterator of ``StreamEvent``s (see ``Stream``)."""

    def __init__(self, open_response: Callable[[], Awaitable[httpx.Response]], provider: Provider, model: str) -> None:
        self._open = open_response
        self._parser = StreamParser(provider, model)
        self._events: AsyncGenerator[StreamEvent, None] | None = None
        self._closed = False
        self._parts: list[str] = []
        self.finish_reason: str | None = None
        """The provider's finish reason, once the stream has sent it."""

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self._parts)

    @property
    def model(self) -> str:
        """The model the stream reported (the requested one until then)."""
        return self._parser.model

    @property
    def input_tokens(self) -> int | None:
        """Input tokens, once reported."""
        return self._parser.input_tokens

    @property
    def output_tokens(self) -> int | None:
        """Output tokens, once reported."""
        return self._parser.output_tokens

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._events is None:
            if self._closed:
                raise StopAsyncIteration
            self._events = self._run()
        return await anext(self._events)

    async def _run(self) -> AsyncGenerator[StreamEvent, None]:
        response = await self._open()
        decoder = SseDecoder()
        try:
            async for line in _alines(response):
                message = decoder.feed(line)
                if message is None:
                    continue
                for event in self._parser.feed(message):
                    self._parts.append(event.text)
                    if event.finish_reason is not None:
                        self.finish_reason = event.finish_reason
                    yield event
                if self._parser.end.over:
                    return
            last = decoder.flush()
            for event in self._parser.feed(last) if last is not None else []:
                self._parts.append(event.text)
                self.finish_reason = event.finish_reason or self.finish_reason
                yield event
            if not self._parser.end.complete:
                # Ended cleanly but without the provider's final event: not a complete answer.
                raise APIConnectionError("The stream ended before its final event.")
        finally:
            await response.aclose()

    async def until_done(self) -> AsyncStream:
        """Read the rest of the stream (``text`` keeps the text)."""
        async for _ in self:
            pass
        return self

    async def aclose(self) -> None:
        """Stop reading and release the connection (a stream never started sends nothing)."""
        self._closed = True
        if self._events is not None:
            await self._events.aclose()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def _alines(response: httpx.Response) -> AsyncIterator[str]:
    """The response's lines, a transport failure mid-stream raised as ``APIConnectionError``."""
    lines = response.aiter_lines()
    while True:
        try:
            line = await anext(lines)
        except StopAsyncIteration:
            return
        except httpx.TransportError as exc:
            raise connection_error(exc) from exc
        yield line


class AsyncAdmin:
    """The admin API of an ``AsyncClient`` (``client.admin``); see ``Admin`` for each call."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def health(self) -> Json:
        """``GET /health``."""
        return await self._client._admin(_admin.health())

    async def ready(self) -> bool:
        """``GET /ready``: True unless the server is draining."""
        return await self._client._admin(_admin.ready())

    async def version(self) -> Json:
        """``GET /version``."""
        return await self._client._admin(_admin.version())

    async def config(self) -> Json:
        """``GET /admin/config``."""
        return await self._client._admin(_admin.config())

    async def auth_status(self) -> Json:
        """``GET /admin/auth``."""
        return await self._client._admin(_admin.auth_status())

    async def drain(self) -> Json:
        """``POST /admin/drain``."""
        return await self._client._admin(_admin.drain())

    async def stats(self) -> Json:
        """``GET /admin/stats``."""
        return await self._client._admin(_admin.stats())

    async def reset_stats(self) -> Json:
        """``POST /admin/stats/reset``."""
        return await self._client._admin(_admin.reset_stats())

    async def engine(self) -> Json:
        """``GET /admin/engine``: the load-aware engines' replicas and the built-in deployment names."""
        return await self._client._admin(_admin.engine())

    @overload
    async def export_stats(self, format: Literal["json"] = "json", by: Literal["model", "key"] = "model") -> Json: ...
    @overload
    async def export_stats(self, format: Literal["csv"], by: Literal["model", "key"] = "model") -> str: ...
    async def export_stats(
        self, format: Literal["json", "csv"] = "json", by: Literal["model", "key"] = "model"
    ) -> Json | str:
        """``GET /admin/stats/export``: JSON object or CSV text."""
        result: Json | str = await self._client._admin(_admin.export_stats(format, by))
        return result

    async def lineage(self, session: str | None = None) -> Lineage:
        """``GET /admin/lineage``: the conversation graph (one session, or all) as a ``Lineage`` view."""
        return Lineage(await self._client._admin(_admin.lineage(session)))

    async def requests(
        self, since: int = 0, path: str | None = None, model: str | None = None, limit: int | None = None
    ) -> list[Json]:
        """``GET /admin/requests``: the entries only."""
        return await self._client._admin(_admin.requests(since, path, model, limit))

    async def request_log(
        self, since: int = 0, path: str | None = None, model: str | None = None, limit: int | None = None
    ) -> Json:
        """``GET /admin/requests`` whole: ``{"enabled", "last_seq", "requests"}``."""
        return await self._client._admin(_admin.request_log(since, path, model, limit))

    async def clear_requests(self) -> Json:
        """``DELETE /admin/requests``."""
        return await self._client._admin(_admin.clear_requests())

    async def journal(self, **filters: Unpack[JournalFilters]) -> Journal:
        """``GET /admin/journal``: the client's test scope's requests and answers (or ``test_id=``'s)."""
        return await self._client._admin(self._client._journal_call(filters))

    async def clear_journal(self, test_id: str | NotGiven | None = NOT_GIVEN) -> Json:
        """``DELETE /admin/journal``: the client's test scope's entries (or ``test_id``'s; None: all)."""
        scope = self._client.test_id if isinstance(test_id, NotGiven) else test_id
        return await self._client._admin(_admin.clear_journal(scope))

    # -- the client's test scope (docs/testing.md, "Shared servers") ---------------------

    async def scopes(self) -> Json:
        """As ``Admin.scopes``, awaited."""
        return await self._client._admin(_admin.scopes())

    async def scope(self, test_id: str | None = None) -> Json:
        """As ``Admin.scope``, awaited."""
        return await self._client._admin(_admin.scope_view(self._client._scope_call(test_id)))

    async def scope_counters(self, test_id: str | None = None) -> Json:
        """As ``Admin.scope_counters``, awaited."""
        counters = (await self.scope(test_id)).get("counters", {})
        return counters if isinstance(counters, dict) else {}

    async def set_strict(self, strict: bool | None = True, test_id: str | None = None) -> Json:
        """As ``Admin.set_strict``, awaited."""
        return await self._client._admin(_admin.set_strict(self._client._scope_call(test_id), strict))

    async def drop_scope(self, test_id: str | None = None) -> Json:
        """As ``Admin.drop_scope``, awaited."""
        return await self._client._admin(_admin.drop_scope(self._client._scope_call(test_id)))

    async def fail_next(
        self,
        n: int = 1,
        error: str | None = None,
        *,
        model: str | None = None,
        test_id: str | None = None,
        global_: bool = False,
        **rule: Any,
    ) -> Json:
        """As ``Admin.fail_next``, awaited."""
        fields = _admin.fault_fields(n, error, model, rule)
        return await self._client._admin(_admin.arm_fault(self._client._fault_target(test_id, global_), fields))

    async def faults(self, test_id: str | None = None, *, global_: bool = False) -> list[Json]:
        """As ``Admin.faults``, awaited."""
        return await self._client._admin(_admin.faults(self._client._fault_target(test_id, global_)))

    async def clear_faults(self, test_id: str | None = None, *, global_: bool = False) -> Json:
        """As ``Admin.clear_faults``, awaited."""
        return await self._client._admin(_admin.clear_faults(self._client._fault_target(test_id, global_)))

    async def chaos(self) -> Json:
        """``GET /admin/chaos``."""
        return await self._client._admin(_admin.chaos())

    async def set_chaos(
        self,
        *,
        enabled: bool | NotGiven = NOT_GIVEN,
        probability: float | NotGiven = NOT_GIVEN,
        rules: Sequence[Mapping[str, Any]] | NotGiven = NOT_GIVEN,
        preset: str | NotGiven | None = NOT_GIVEN,
        scenarios: Sequence[Mapping[str, Any]] | NotGiven = NOT_GIVEN,
        scenario_repeat_s: float | NotGiven | None = NOT_GIVEN,
    ) -> Json:
        """``PUT /admin/chaos`` (see ``Admin.set_chaos``)."""
        fields = {
            "enabled": enabled,
            "probability": probability,
            "rules": rules,
            "preset": preset,
            "scenarios": scenarios,
            "scenario_repeat_s": scenario_repeat_s,
        }
        return await self._client._admin(_admin.set_chaos(fields))

    async def enable_chaos(self) -> Json:
        """``POST /admin/chaos/enable``."""
        return await self._client._admin(_admin.enable_chaos())

    async def disable_chaos(self) -> Json:
        """``POST /admin/chaos/disable``."""
        return await self._client._admin(_admin.disable_chaos())

    async def clear_chaos_rules(self) -> Json:
        """``DELETE /admin/chaos/rules``."""
        return await self._client._admin(_admin.clear_chaos_rules())

    async def restart_chaos_scenarios(self) -> Json:
        """``POST /admin/chaos/scenarios/restart``."""
        return await self._client._admin(_admin.restart_chaos_scenarios())

    async def circuit_breakers(self) -> Json:
        """``GET /admin/circuit-breakers``."""
        return await self._client._admin(_admin.circuit_breakers())

    async def reset_circuit_breakers(self, model: str | None = None) -> Json:
        """``POST /admin/circuit-breakers/reset``."""
        return await self._client._admin(_admin.reset_circuit_breakers(model))

    async def rate_limits(self) -> Json:
        """``GET /admin/rate-limits``."""
        return await self._client._admin(_admin.rate_limits())

    async def reset_rate_limits(self) -> Json:
        """``POST /admin/rate-limits/reset``."""
        return await self._client._admin(_admin.reset_rate_limits())

    async def fixtures(self) -> Json:
        """``GET /admin/fixtures``."""
        return await self._client._admin(_admin.fixtures())

    async def load_fixtures(self, data_or_yaml_str: str | bytes | Mapping[str, Any], replace: bool = False) -> Json:
        """``POST /admin/fixtures`` (``replace=True`` swaps out what is loaded)."""
        return await self._client._admin(_admin.load_fixtures(data_or_yaml_str, replace))

    async def clear_fixtures(self) -> Json:
        """``DELETE /admin/fixtures``."""
        return await self._client._admin(_admin.clear_fixtures())

    async def sessions(self) -> list[Json]:
        """``GET /admin/sessions``."""
        return await self._client._admin(_admin.sessions())

    async def session(self, session_id: str) -> Json:
        """``GET /admin/sessions/{id}``."""
        return await self._client._admin(_admin.session(session_id))

    async def clear_sessions(self) -> Json:
        """``DELETE /admin/sessions``."""
        return await self._client._admin(_admin.clear_sessions())

    async def drop_session(self, session_id: str) -> Json:
        """``DELETE /admin/sessions/{id}``."""
        return await self._client._admin(_admin.drop_session(session_id))
