"""A test's scope on a shared simulator, for any HTTP client: the header, and how to add it.

A request carrying ``x-simulator-test-id: <id>`` belongs to that test's scope (its chaos,
fixtures, one-shot faults and journal; see docs/testing.md). ``Client(test_id=...)`` adds the
header to every request it sends; these helpers add it to the official SDKs' clients:

```python
from llm_simulator.sdk import scope

openai.OpenAI(base_url=..., api_key=..., **scope.openai_options("tests/test_x.py::test_y"))
anthropic.Anthropic(base_url=..., api_key=..., **scope.anthropic_options(test_id))
genai.Client(api_key=..., http_options=types.HttpOptions(base_url=..., **scope.genai_options(test_id)))
httpx.Client(event_hooks={"request": [scope.event_hook(test_id)]})
```
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from llm_simulator.core.test_scope import TEST_ID_HEADER, TEST_ID_PATTERN, is_valid_test_id

__all__ = [
    "TEST_ID_HEADER",
    "anthropic_options",
    "async_event_hook",
    "check_test_id",
    "event_hook",
    "genai_options",
    "headers",
    "openai_options",
]


def check_test_id(test_id: str) -> str:
    """``test_id`` itself, or a ``ValueError`` saying what a test id may hold."""
    if not isinstance(test_id, str) or not is_valid_test_id(test_id):
        raise ValueError(f"invalid test id {test_id!r}: it must match {TEST_ID_PATTERN.pattern}")
    return test_id


def headers(test_id: str) -> dict[str, str]:
    """The header that puts a request in ``test_id``'s scope."""
    return {TEST_ID_HEADER: check_test_id(test_id)}


def openai_options(test_id: str) -> dict[str, Any]:
    """Keyword arguments for ``openai.OpenAI``/``AsyncOpenAI``: ``default_headers`` with the test id."""
    return {"default_headers": headers(test_id)}


def anthropic_options(test_id: str) -> dict[str, Any]:
    """Keyword arguments for ``anthropic.Anthropic``/``AsyncAnthropic``: ``default_headers`` with the test id."""
    return {"default_headers": headers(test_id)}


def genai_options(test_id: str) -> dict[str, Any]:
    """Keyword arguments for google-genai's ``types.HttpOptions``: ``headers`` with the test id."""
    return {"headers": headers(test_id)}


def event_hook(test_id: str) -> Callable[[httpx.Request], None]:
    """An httpx ``request`` event hook that puts every request of a client in ``test_id``'s scope."""
    value = check_test_id(test_id)

    def hook(request: httpx.Request) -> None:
        request.headers[TEST_ID_HEADER] = value

    return hook


def async_event_hook(test_id: str) -> Callable[[httpx.Request], Awaitable[None]]:
    """As ``event_hook``, for an ``httpx.AsyncClient`` (its hooks are coroutines)."""
    sync = event_hook(test_id)

    async def hook(request: httpx.Request) -> None:
        sync(request)

    return hook
