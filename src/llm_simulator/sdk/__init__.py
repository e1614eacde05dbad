"""A Python SDK for a running simulator: its admin API, and a thin chat/stream/embed client.

```python
from llm_simulator.sdk import Client, RateLimitError

with Client("http://127.0.0.1:8080") as client:
    print(client.chat("Say hello", provider="anthropic").text)
    client.admin.set_chaos(enabled=True, rules=[{"error_type": "rate_limit"}])

with Client("http://127.0.0.1:8080", test_id="tests/test_agent.py::test_loop") as client:
    client.chat("What is the weather?")           # in the test's scope
    client.journal().assert_requested(times=1)    # its journal, with assertion helpers
```

``llm_simulator.sdk.scope`` puts the official SDKs' clients in a test scope too.

``Client`` is synchronous and ``AsyncClient`` its async twin; both retry what is worth
retrying (honouring ``retry-after``) and raise typed errors (``SimulatorAPIError`` and its
subclasses). The SDK only speaks HTTP: it imports nothing from the server side, so it works
against a simulator anywhere (and, for chat, against the real APIs' wire formats). The
names below are the public API, pinned by ``tests/sdk/test_public_api.py``.
"""

from llm_simulator.infra.retry import RetryPolicy
from llm_simulator.sdk._admin import NOT_GIVEN, NotGiven
from llm_simulator.sdk._base import DEFAULT_BASE_URL, DEFAULT_RETRY
from llm_simulator.sdk.aclient import AsyncAdmin, AsyncClient, AsyncStream
from llm_simulator.sdk.client import Admin, Client, Stream
from llm_simulator.sdk.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InvalidResponseError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SimulatorAPIError,
    is_retryable,
)
from llm_simulator.sdk.journal import Journal, JournalAssertionError, JournalFilters, ToolResult, tool_results
from llm_simulator.sdk.lineage import Lineage
from llm_simulator.sdk.types import ChatResult, Message, Prompt, Provider, StreamEvent
from llm_simulator.wire.defaults import DEFAULT_EMBEDDING_MODELS, DEFAULT_MODELS

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_EMBEDDING_MODELS",
    "DEFAULT_MODELS",
    "DEFAULT_RETRY",
    "NOT_GIVEN",
    "APIConnectionError",
    "APITimeoutError",
    "Admin",
    "AsyncAdmin",
    "AsyncClient",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "ChatResult",
    "Client",
    "InvalidResponseError",
    "Journal",
    "JournalAssertionError",
    "JournalFilters",
    "Lineage",
    "Message",
    "NotFoundError",
    "NotGiven",
    "OverloadedError",
    "PermissionDeniedError",
    "Prompt",
    "Provider",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "SimulatorAPIError",
    "Stream",
    "StreamEvent",
    "ToolResult",
    "is_retryable",
    "tool_results",
]
