"""A simulator shared by the test-scope suites (in process, real socket) and their helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import httpx
import openai
import pytest

from llm_simulator.core.test_scope import TEST_ID_HEADER
from llm_simulator.testing import SimulatorHandle, start_simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    """One server for a module, as a shared CI server would be."""
    with start_simulator() as handle:
        yield handle


T = TypeVar("T")

# SDK clients a test built, closed after it (an unclosed socket fails a later test's run).
_CLIENTS: list[Any] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    """Close every client ``keep`` registered during the test."""
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def keep(client: T) -> T:
    """Register an SDK client (anything with ``close``) to be closed after the test; returns it."""
    _CLIENTS.append(client)
    return client


@pytest.fixture
def admin(sim: SimulatorHandle) -> Iterator[httpx.Client]:
    """A plain HTTP client on the server's root (the admin API)."""
    with httpx.Client(base_url=sim.url, timeout=30) as client:
        yield client


def scoped_openai(sim: SimulatorHandle, test_id: str | None) -> openai.OpenAI:
    """The official OpenAI client whose every request carries ``test_id`` (None: unscoped)."""
    headers = {TEST_ID_HEADER: test_id} if test_id is not None else None
    client = openai.OpenAI(
        base_url=sim.openai_base_url,
        api_key="sk-test",
        max_retries=0,
        default_headers=headers,
        _strict_response_validation=True,
    )
    return keep(client)


def ask(client: openai.OpenAI, text: str, model: str = "gpt-4o") -> str:
    """One chat completion's text."""
    reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], max_tokens=8)
    return reply.choices[0].message.content or ""


def ok(response: httpx.Response) -> Any:
    """The JSON of a 200 answer (the body shown when it is not)."""
    assert response.status_code == 200, response.text
    return response.json()


def fixture(match: str, reply: str) -> str:
    """A one-rule fixtures document: a last user message containing ``match`` gets ``reply``."""
    return f"rules:\n  - match: {{message: {match!r}}}\n    respond: {{text: {reply!r}}}\n"
