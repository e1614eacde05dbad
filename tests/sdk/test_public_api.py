"""The SDK's public API is curated, documented, and light: it never imports the server side."""

from __future__ import annotations

import subprocess
import sys

import llm_simulator.sdk as sdk

EXPECTED = {
    # clients
    "Client",
    "AsyncClient",
    "Admin",
    "AsyncAdmin",
    "Stream",
    "AsyncStream",
    # results and inputs
    "ChatResult",
    "StreamEvent",
    "Message",
    "Prompt",
    "Provider",
    # errors
    "SimulatorAPIError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "OverloadedError",
    "ServerError",
    "APIConnectionError",
    "APITimeoutError",
    "InvalidResponseError",
    "Lineage",
    "is_retryable",
    # the request journal
    "Journal",
    "JournalAssertionError",
    "JournalFilters",
    "ToolResult",
    "tool_results",
    # settings
    "RetryPolicy",
    "DEFAULT_RETRY",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODELS",
    "DEFAULT_EMBEDDING_MODELS",
    "NOT_GIVEN",
    "NotGiven",
}
CONSTANTS = {"DEFAULT_BASE_URL", "DEFAULT_MODELS", "DEFAULT_EMBEDDING_MODELS", "Message", "Prompt", "Provider"}


def test_all_is_pinned() -> None:
    assert set(sdk.__all__) == EXPECTED
    assert len(sdk.__all__) == len(EXPECTED)


def test_every_public_name_resolves_and_is_documented() -> None:
    for name in sdk.__all__:
        obj = getattr(sdk, name)
        if name not in CONSTANTS:
            assert getattr(obj, "__doc__", None), name


def test_public_methods_are_documented() -> None:
    for cls in (sdk.Client, sdk.AsyncClient, sdk.Admin, sdk.AsyncAdmin, sdk.Stream, sdk.AsyncStream):
        for name, member in vars(cls).items():
            if not name.startswith("_") and callable(member):
                assert member.__doc__, f"{cls.__name__}.{name}"


def test_importing_the_sdk_loads_nothing_from_the_server_side() -> None:
    code = (
        "import sys, llm_simulator.sdk\n"
        "bad = [m for m in sys.modules if m.split('.')[:2] in "
        "[['llm_simulator', p] for p in ('server', 'engine', 'providers', 'telemetry', 'security', 'config')]]\n"
        "assert not bad, bad\n"
        "assert 'pydantic' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
