"""The synchronous client: chat, streaming, embeddings and the admin API, with retries."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, TypeVar, Unpack, overload

import httpx

from llm_simulator.infra.retry import RetryPolicy, retry
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

__all__ = ["Admin", "Client", "Stream"]

T = TypeVar("T")


class Client(ClientBase):
    """A client for a running simulator: ``chat``, ``stream``, ``embed`` and ``admin``.

    ``base_url`` is the simulator's root URL (no ``/v1``). ``provider`` picks the wire format
    the thin chat client speaks (``openai``, ``anthropic`` or ``gemini``; each call can
    override it) and ``api_key`` is sent the way that provider expects. Admin calls send
    ``admin_key`` (else ``api_key``) as ``Authorization: Bearer``.

    Each request is retried per ``retry`` (default: 3 retries with exponential backoff and
    jitter) when retrying can help: connection failures, timeouts, 408/409/429/5xx, or when
    the server's ``x-should-retry`` says so; a ``retry-after``/``retry-after-ms`` hint (or
    Gemini's ``RetryInfo``) stretches the wait. ``retry=None`` turns retries off. A stream
    is retried only until its first byte. ``sleep`` (default ``time.sleep``) and
    ``transport`` (an ``httpx`` transport such as ``httpx.MockTransport``) are test seams.
    ``test_id`` puts every request (API and admin) in that test scope
    (``x-simulator-test-id``); ``journal()`` then reads the scope's journal.
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
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        test_id: str | None = None,
        sleep: Callable[[float], object] = time.sleep,
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
        self._http = httpx.Client(transport=transport, **self._httpx_options())
        self.admin = Admin(self)
        """The admin API namespace."""

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------

    def _attempt(self, request: httpx.Request, *, stream: bool, accept: frozenset[int] = frozenset()) -> httpx.Response:
        """One try: send, raise the typed error of a failed answer, read the body unless streaming."""
        try:
            response = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise connection_error(exc) from exc
        try:
            if stream and response.status_code < 400:
                return response
            response.read()
        except httpx.TransportError as exc:
            response.close()
            raise connection_error(exc) from exc
        response.close()
        raise_for_status(response, accept)
        return response

    def _retried(self, fn: Callable[[], T]) -> T:
        return retry(fn, self.retry_policy, sleep=self._sleep)

    def _admin(self, call: AdminCall[T]) -> T:
        request = self._admin_request(self._http, call)
        response = self._retried(lambda: self._attempt(request, stream=False, accept=call.accept))
        return call.parse(response.status_code, response.content, response.headers)

    # -- API -------------------------------------------------------------------------------

    def chat(
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
        """One complete chat answer in the chosen provider's wire format.

        ``prompt_or_messages`` is a user message or a list of ``{"role", "content"}``
        messages (system messages become Anthropic's ``system`` / Gemini's
        ``systemInstruction``). ``model`` defaults to the provider's small model
        (gpt-4o-mini, claude-haiku-4-5, gemini-2.5-flash-lite); ``seed`` makes the answer
        reproducible; ``extra`` fields are merged into the request body; ``headers`` are
        added to the request (``x-simulator-chaos``, a session header, ...).
        """
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
        response = self._retried(lambda: self._attempt(request, stream=False))
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
    ) -> Stream:
        """A streamed chat answer: iterate it for ``StreamEvent``s (text deltas, then the finish).

        Arguments as for ``chat``. The request is sent when iteration starts; it is retried
        until the first byte of the answer, never after. An error sent inside the stream is
        raised as its typed error; a broken connection as ``APIConnectionError``. Use it as
        a context manager (or call ``close()``) when you stop reading early.
        """
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
        return Stream(lambda: self._retried(lambda: self._attempt(request, stream=True)), chosen, name)

    def embed(
        self,
        texts: Sequence[str],
        *,
        model: str | None = None,
        provider: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> list[list[float]]:
        """One vector per text (OpenAI ``/v1/embeddings``, Gemini ``:batchEmbedContents``).

        ``model`` defaults to text-embedding-3-small / gemini-embedding-001. Anthropic has no
        embeddings API: asking for it raises ``ValueError``.
        """
        chosen, wire = self._embed_wire(texts, model=model, provider=provider)
        request = self._api_request(self._http, chosen, wire, headers)
        response = self._retried(lambda: self._attempt(request, stream=False))
        return decoded(response.status_code, lambda: parse_embeddings(chosen, response.json()))

    def journal(self, **filters: Unpack[JournalFilters]) -> Journal:
        """The journal of this client's test scope (``admin.journal``)."""
        return self.admin.journal(**filters)


class Stream:
    """A streamed answer: an iterator of ``StreamEvent``s, closed at the end or by ``close()``.

    While and after iterating, ``text`` holds the text so far, ``finish_reason`` the
    provider's finish reason, and ``model``, ``input_tokens``, ``output_tokens`` what the
    stream reported.
    """

    def __init__(self, open_response: Callable[[], httpx.Response], provider: Provider, model: str) -> None:
        self._open = open_response
        self._parser = StreamParser(provider, model)
        self._events: Generator[StreamEvent, None, None] | None = None
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

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> StreamEvent:
        if self._events is None:
            if self._closed:
                raise StopIteration
            self._events = self._run()
        return next(self._events)

    def _run(self) -> Generator[StreamEvent, None, None]:
        response = self._open()
        decoder = SseDecoder()
        try:
            for line in _lines(response):
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
                # Ended cleanly but without the provider's final event (a cut by a proxy, or
                # no event stream at all): not a complete answer.
                raise APIConnectionError("The stream ended before its final event.")
        finally:
            response.close()

    def until_done(self) -> Stream:
        """Read the rest of the stream (its events are dropped; ``text`` keeps the text)."""
        for _ in self:
            pass
        return self

    def close(self) -> None:
        """Stop reading and release the connection (a stream never started sends nothing)."""
        self._closed = True
        if self._events is not None:
            self._events.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _lines(response: httpx.Response) -> Iterator[str]:
    """The response's lines, a transport failure mid-stream raised as ``APIConnectionError``."""
    lines = response.iter_lines()
    while True:
        try:
            line = next(lines)
        except StopIteration:
            return
        except httpx.TransportError as exc:
            raise connection_error(exc) from exc
        yield line


class Admin:
    """The simulator's admin API (``client.admin``); every call returns the parsed answer.

    Paths and payloads: ``docs/chaos.md``, ``docs/fixtures.md``, ``docs/observability.md``.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    def health(self) -> Json:
        """``GET /health``: ``{"status": "ok"}``."""
        return self._client._admin(_admin.health())

    def ready(self) -> bool:
        """``GET /ready``: True unless the server is draining."""
        return self._client._admin(_admin.ready())

    def version(self) -> Json:
        """``GET /version``: simulator, Python and HTTP server versions."""
        return self._client._admin(_admin.version())

    def config(self) -> Json:
        """``GET /admin/config``: the effective configuration, secrets redacted."""
        return self._client._admin(_admin.config())

    def auth_status(self) -> Json:
        """``GET /admin/auth``: whether auth is on, the keys' names and roles (no secrets)."""
        return self._client._admin(_admin.auth_status())

    def drain(self) -> Json:
        """``POST /admin/drain``: mark the server not ready (serving continues)."""
        return self._client._admin(_admin.drain())

    def stats(self) -> Json:
        """``GET /admin/stats``: counters and per-model latency percentiles."""
        return self._client._admin(_admin.stats())

    def reset_stats(self) -> Json:
        """``POST /admin/stats/reset``."""
        return self._client._admin(_admin.reset_stats())

    def engine(self) -> Json:
        """``GET /admin/engine``: the load-aware engines' replicas and the built-in deployment names.

        ``{"deployments": [...], "presets": [...]}``; each row has ``deployment``, ``replica``,
        ``running``, ``waiting``, ``kv_usage``, ``kv_blocks``, ``prefix_cache_hit_rate``, ``preemptions``,
        ``rejected``, ``timed_out``, ``steps``, ``mean_step_ms``, ``mean_batch_size`` and
        ``generated_tokens`` (empty until an engine-served model has had a request).
        """
        return self._client._admin(_admin.engine())

    @overload
    def export_stats(self, format: Literal["json"] = "json", by: Literal["model", "key"] = "model") -> Json: ...
    @overload
    def export_stats(self, format: Literal["csv"], by: Literal["model", "key"] = "model") -> str: ...
    def export_stats(
        self, format: Literal["json", "csv"] = "json", by: Literal["model", "key"] = "model"
    ) -> Json | str:
        """``GET /admin/stats/export``: per-model/key aggregates as a JSON object or CSV text."""
        result: Json | str = self._client._admin(_admin.export_stats(format, by))
        return result

    def lineage(self, session: str | None = None) -> Lineage:
        """``GET /admin/lineage``: the conversation graph (one session, or all) as a ``Lineage`` view."""
        return Lineage(self._client._admin(_admin.lineage(session)))

    def requests(
        self, since: int = 0, path: str | None = None, model: str | None = None, limit: int | None = None
    ) -> list[Json]:
        """``GET /admin/requests``: the requests received (oldest first), if the request log is on.

        ``since`` a sequence number (entries after it), ``path``/``model`` exact filters,
        ``limit`` the last N. ``request_log()`` also returns ``last_seq``.
        """
        return self._client._admin(_admin.requests(since, path, model, limit))

    def request_log(
        self, since: int = 0, path: str | None = None, model: str | None = None, limit: int | None = None
    ) -> Json:
        """``GET /admin/requests`` whole: ``{"enabled", "last_seq", "requests"}``."""
        return self._client._admin(_admin.request_log(since, path, model, limit))

    def clear_requests(self) -> Json:
        """``DELETE /admin/requests``: ``{"cleared": n}``."""
        return self._client._admin(_admin.clear_requests())

    def journal(self, **filters: Unpack[JournalFilters]) -> Journal:
        """``GET /admin/journal``: the requests and answers of the client's test scope (or ``test_id=``).

        Filters (``JournalFilters``) narrow it on the server; the ``Journal`` has the assertion
        helpers (``assert_requested``, ``assert_tool_result_sent``, ``assert_no_unmatched``).
        """
        return self._client._admin(self._client._journal_call(filters))

    def clear_journal(self, test_id: str | NotGiven | None = NOT_GIVEN) -> Json:
        """``DELETE /admin/journal``: the client's test scope's entries (or ``test_id``'s; None: all)."""
        scope = self._client.test_id if isinstance(test_id, NotGiven) else test_id
        return self._client._admin(_admin.clear_journal(scope))

    # -- the client's test scope (docs/testing.md, "Shared servers") ---------------------

    def scopes(self) -> Json:
        """``GET /admin/scopes``: the worker's live scopes, with ``idle_ttl_s`` and ``max_scopes``."""
        return self._client._admin(_admin.scopes())

    def scope(self, test_id: str | None = None) -> Json:
        """``GET /admin/scope``: the client's scope (or ``test_id``'s) in full (``NotFoundError`` if none)."""
        return self._client._admin(_admin.scope_view(self._client._scope_call(test_id)))

    def scope_counters(self, test_id: str | None = None) -> Json:
        """The scope's counters: requests by status, fixture hits, strict misses, faults fired."""
        counters = self.scope(test_id).get("counters", {})
        return counters if isinstance(counters, dict) else {}

    def set_strict(self, strict: bool | None = True, test_id: str | None = None) -> Json:
        """``PUT /admin/scope``: strict mode for the scope (None: follow ``fixtures.strict``); the scope."""
        return self._client._admin(_admin.set_strict(self._client._scope_call(test_id), strict))

    def drop_scope(self, test_id: str | None = None) -> Json:
        """``DELETE /admin/scope``: clear the scope fleet-wide (chaos, fixtures, sessions, faults, counters)."""
        return self._client._admin(_admin.drop_scope(self._client._scope_call(test_id)))

    def fail_next(
        self,
        n: int = 1,
        error: str | None = None,
        *,
        model: str | None = None,
        test_id: str | None = None,
        global_: bool = False,
        **rule: Any,
    ) -> Json:
        """Arm a one-shot fault: the next ``n`` matching requests of the scope fail (``POST /admin/faults``).

        ``error`` is a chaos ``error_type`` (``rate_limit``, ``server_error``...), ``model`` narrows
        it to one model, and ``rule`` takes any other chaos rule field (``stream_fault``,
        ``misbehave``, ``status_code``, ``providers``...). Global when the client has no test id;
        a scoped client arms a global one only with ``global_=True`` (``?global=true``): every
        test on the server meets it, so disarm it with ``clear_faults(global_=True)``.
        """
        fields = _admin.fault_fields(n, error, model, rule)
        return self._client._admin(_admin.arm_fault(self._client._fault_target(test_id, global_), fields))

    def faults(self, test_id: str | None = None, *, global_: bool = False) -> list[Json]:
        """``GET /admin/faults``: the scope's armed one-shot faults (global without a test id, or with ``global_``)."""
        return self._client._admin(_admin.faults(self._client._fault_target(test_id, global_)))

    def clear_faults(self, test_id: str | None = None, *, global_: bool = False) -> Json:
        """``DELETE /admin/faults``: disarm the scope's one-shot faults (the global ones: no test id, ``global_``)."""
        return self._client._admin(_admin.clear_faults(self._client._fault_target(test_id, global_)))

    def chaos(self) -> Json:
        """``GET /admin/chaos``: switches, rules in force, scenarios, breakers, counters."""
        return self._client._admin(_admin.chaos())

    def set_chaos(
        self,
        *,
        enabled: bool | NotGiven = NOT_GIVEN,
        probability: float | NotGiven = NOT_GIVEN,
        rules: Sequence[Mapping[str, Any]] | NotGiven = NOT_GIVEN,
        preset: str | NotGiven | None = NOT_GIVEN,
        scenarios: Sequence[Mapping[str, Any]] | NotGiven = NOT_GIVEN,
        scenario_repeat_s: float | NotGiven | None = NOT_GIVEN,
    ) -> Json:
        """``PUT /admin/chaos``: change the fields given (``rules``/``scenarios`` replaced whole).

        ``preset=None`` removes the preset. Returns the chaos state, as ``chaos()``.
        """
        fields = {
            "enabled": enabled,
            "probability": probability,
            "rules": rules,
            "preset": preset,
            "scenarios": scenarios,
            "scenario_repeat_s": scenario_repeat_s,
        }
        return self._client._admin(_admin.set_chaos(fields))

    def enable_chaos(self) -> Json:
        """``POST /admin/chaos/enable``."""
        return self._client._admin(_admin.enable_chaos())

    def disable_chaos(self) -> Json:
        """``POST /admin/chaos/disable``."""
        return self._client._admin(_admin.disable_chaos())

    def clear_chaos_rules(self) -> Json:
        """``DELETE /admin/chaos/rules``: drop the rules and the preset, and switch chaos off."""
        return self._client._admin(_admin.clear_chaos_rules())

    def restart_chaos_scenarios(self) -> Json:
        """``POST /admin/chaos/scenarios/restart``: the scenario timeline starts over."""
        return self._client._admin(_admin.restart_chaos_scenarios())

    def circuit_breakers(self) -> Json:
        """``GET /admin/circuit-breakers``."""
        return self._client._admin(_admin.circuit_breakers())

    def reset_circuit_breakers(self, model: str | None = None) -> Json:
        """``POST /admin/circuit-breakers/reset``: close one model's breaker, or all."""
        return self._client._admin(_admin.reset_circuit_breakers(model))

    def rate_limits(self) -> Json:
        """``GET /admin/rate-limits``."""
        return self._client._admin(_admin.rate_limits())

    def reset_rate_limits(self) -> Json:
        """``POST /admin/rate-limits/reset``: refill every bucket."""
        return self._client._admin(_admin.reset_rate_limits())

    def fixtures(self) -> Json:
        """``GET /admin/fixtures``: loaded rules (with hits) and scenarios."""
        return self._client._admin(_admin.fixtures())

    def load_fixtures(self, data_or_yaml_str: str | bytes | Mapping[str, Any], replace: bool = False) -> Json:
        """``POST /admin/fixtures``: add (or with ``replace=True``, swap in) a fixtures document."""
        return self._client._admin(_admin.load_fixtures(data_or_yaml_str, replace))

    def clear_fixtures(self) -> Json:
        """``DELETE /admin/fixtures``: remove every rule, scenario and session."""
        return self._client._admin(_admin.clear_fixtures())

    def sessions(self) -> list[Json]:
        """``GET /admin/sessions``: every scenario session and what each step received."""
        return self._client._admin(_admin.sessions())

    def session(self, session_id: str) -> Json:
        """``GET /admin/sessions/{id}`` (``NotFoundError`` if there is none)."""
        return self._client._admin(_admin.session(session_id))

    def clear_sessions(self) -> Json:
        """``DELETE /admin/sessions``."""
        return self._client._admin(_admin.clear_sessions())

    def drop_session(self, session_id: str) -> Json:
        """``DELETE /admin/sessions/{id}``."""
        return self._client._admin(_admin.drop_session(session_id))
