"""What the sync and async clients share: settings, headers, the retry policy, error mapping."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from llm_simulator._version import __version__
from llm_simulator.infra.retry import RetryPolicy
from llm_simulator.sdk import scope
from llm_simulator.sdk._admin import GLOBAL, AdminCall, journal
from llm_simulator.sdk._wire import WireRequest, chat_request, embed_request, encode
from llm_simulator.sdk.errors import APIConnectionError, APITimeoutError, error_from_response, is_retryable
from llm_simulator.sdk.journal import Journal
from llm_simulator.sdk.types import Prompt, Provider
from llm_simulator.wire.defaults import DEFAULT_EMBEDDING_MODELS, DEFAULT_MODELS, check_provider
from llm_simulator.wire.http import auth_headers

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRY = RetryPolicy(max_retries=3)
"""3 retries, exponential backoff with jitter from 100 ms (capped at 10 s), server hints honoured up to 60 s."""
USER_AGENT = f"llm-simulator-sdk/{__version__}"


def sdk_policy(policy: RetryPolicy | None) -> RetryPolicy:
    """``policy`` narrowed to what is worth retrying (``is_retryable``); None: never retry.

    A policy's own ``retry_if`` still applies on top, so a caller can only narrow further: a
    400 is retried only when the server says so (``x-should-retry: true``), whatever the policy.
    """
    if policy is None:
        return RetryPolicy(max_retries=0)
    own = policy.retry_if

    def retry_if(exc: Exception) -> bool:
        return is_retryable(exc) and own(exc)

    return dataclasses.replace(policy, retry_if=retry_if)


def connection_error(exc: httpx.TransportError) -> APIConnectionError:
    """The SDK error for an httpx transport failure (a timeout is ``APITimeoutError``)."""
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"Request timed out ({type(exc).__name__}).")
    return APIConnectionError(f"Connection error: {exc or type(exc).__name__}.")


def raise_for_status(response: httpx.Response, accept: frozenset[int] = frozenset()) -> None:
    """Raise the typed error of an answered-but-failed request (its body already read)."""
    status = response.status_code
    if status >= 400 and status not in accept:
        raise error_from_response(status, response.content, response.headers)


class ClientBase:
    """Settings and request building common to ``Client`` and ``AsyncClient``."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None,
        admin_key: str | None,
        provider: str,
        timeout: float | httpx.Timeout | None,
        retry: RetryPolicy | None,
        headers: Mapping[str, str] | None,
        test_id: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.admin_key = admin_key
        self.provider: Provider = check_provider(provider)
        self.timeout = timeout
        self.retry_policy = sdk_policy(retry)
        self._default_headers = {"user-agent": USER_AGENT, **(headers or {})}
        self.test_id = test_id
        """The test scope every request is sent in (``x-simulator-test-id``), or None."""
        if test_id is not None:
            self._default_headers.update(scope.headers(test_id))

    def scope_headers(self) -> dict[str, str]:
        """The header that puts a request in this client's test scope (empty without a ``test_id``).

        Give it to another client as its default headers (``openai.OpenAI(default_headers=...)``).
        """
        return scope.headers(self.test_id) if self.test_id is not None else {}

    def _scope_id(self, test_id: str | None, *, required: bool = True) -> str | None:
        """``test_id``, else this client's; a ``ValueError`` if neither is set and a scope is ``required``."""
        chosen = test_id if test_id is not None else self.test_id
        if chosen is None and required:
            raise ValueError("no test scope: give test_id= or build the client with Client(..., test_id=...)")
        return chosen

    def _fault_target(self, test_id: str | None, global_: bool) -> str | None:
        """Where a one-shot fault call goes: ``test_id``'s scope, the global faults, or this client's scope.

        ``global_`` is the explicit opt-in for the global faults from a scoped client (every
        test on a shared server meets them); naming a ``test_id`` as well is a ``ValueError``.
        """
        if global_:
            if test_id is not None:
                raise ValueError("give test_id= or global_=True, not both")
            return GLOBAL
        return self._scope_id(test_id, required=False)

    def _scope_call(self, test_id: str | None) -> str:
        """The scope a scope-only admin call names (``_scope_id`` with a scope required)."""
        chosen = self._scope_id(test_id)
        assert chosen is not None  # _scope_id raised otherwise
        return chosen

    def _journal_call(self, filters: Mapping[str, object]) -> AdminCall[Journal]:
        """The journal read for ``filters``, in this client's scope unless they name one."""
        given = dict(filters)
        given.setdefault("test_id", self.test_id)
        return journal(given)

    def _httpx_options(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "timeout": self.timeout if isinstance(self.timeout, httpx.Timeout) else httpx.Timeout(self.timeout),
            "headers": self._default_headers,
        }

    def _provider(self, provider: str | None) -> Provider:
        return self.provider if provider is None else check_provider(provider)

    def _chat_wire(
        self,
        prompt: Prompt,
        *,
        model: str | None,
        max_tokens: int | None,
        provider: str | None,
        seed: int | None,
        stream: bool,
        extra: Mapping[str, Any],
    ) -> tuple[Provider, str, WireRequest]:
        chosen = self._provider(provider)
        name = model or DEFAULT_MODELS[chosen]
        wire = chat_request(chosen, prompt, model=name, max_tokens=max_tokens, seed=seed, stream=stream, extra=extra)
        return chosen, name, wire

    def _embed_wire(
        self, texts: Sequence[str], *, model: str | None, provider: str | None
    ) -> tuple[Provider, WireRequest]:
        chosen = self._provider(provider)
        name = model or DEFAULT_EMBEDDING_MODELS.get(chosen, "")
        return chosen, embed_request(chosen, texts, name)

    def _api_request(
        self,
        http: httpx.Client | httpx.AsyncClient,
        provider: Provider,
        wire: WireRequest,
        extra: Mapping[str, str] | None,
    ) -> httpx.Request:
        headers = {
            "content-type": "application/json",
            **auth_headers(provider, self.api_key),
            **wire.headers,
            **(extra or {}),
        }
        if wire.path.endswith(":streamGenerateContent") or _streams(wire):
            headers.setdefault("accept", "text/event-stream")
        content = encode(wire.json)
        return http.build_request(wire.method, wire.path, headers=headers, content=content, params=wire.params)

    def _admin_request(self, http: httpx.Client | httpx.AsyncClient, call: AdminCall[Any]) -> httpx.Request:
        headers: dict[str, str] = {}
        key = self.admin_key or self.api_key
        if key is not None:
            headers["authorization"] = f"Bearer {key}"
        if call.content_type is not None:
            headers["content-type"] = call.content_type
        return http.build_request(call.method, call.path, headers=headers, content=call.content, params=call.params)


def _streams(wire: WireRequest) -> bool:
    body = wire.json
    return isinstance(body, dict) and body.get("stream") is True
