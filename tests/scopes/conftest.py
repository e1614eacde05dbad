"""A simulator shared by the test-scope suites (in process, real socket) and their helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


@pytest.fixture
def admin(sim: SimulatorHandle) -> Iterator[httpx.Client]:
    """A plain HTTP client on the server's root (the admin API)."""
    with httpx.Client(base_url=sim.url, timeout=30) as client:
        yield client


def scoped_openai(sim: SimulatorHandle, test_id: str | None) -> openai.OpenAI:
    """The official OpenAI client whose every request carries ``test_id`` (None: unscoped)."""
    headers = {TEST_ID_HEADER: test_id} if test_id is not None else None
    return openai.OpenAI(
        base_url=sim.openai_base_url,
        api_key="sk-test",
        max_retries=0,
        default_headers=headers,
        _strict_response_validation=True,
    )


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
