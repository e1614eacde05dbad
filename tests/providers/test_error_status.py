"""Each provider's HTTP status for the neutral error kinds, and explicit statuses winning."""

from __future__ import annotations

import orjson
import pytest

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.providers.anthropic.errors import render_error as anthropic_error
from llm_simulator.providers.gemini.errors import render_error as gemini_error
from llm_simulator.providers.openai.errors import render_error as openai_error


@pytest.mark.parametrize(
    ("kind", "openai", "anthropic", "gemini"),
    [
        (ErrorKind.OVERLOADED, 503, 529, 503),
        (ErrorKind.UNAVAILABLE, 503, 529, 503),
        (ErrorKind.RATE_LIMIT, 429, 429, 429),
        (ErrorKind.CONTEXT_LENGTH, 400, 400, 400),
        (ErrorKind.TIMEOUT, 504, 504, 504),
    ],
)
def test_default_status_per_provider(kind: ErrorKind, openai: int, anthropic: int, gemini: int) -> None:
    error = SimulatorError(kind, "x")
    assert openai_error(error, "req_1").status == openai
    assert anthropic_error(error, "req_1").status == anthropic
    gemini_response = gemini_error(error, "req_1")
    assert gemini_response.status == gemini
    assert orjson.loads(gemini_response.body)["error"]["code"] == gemini


@pytest.mark.parametrize("kind", [ErrorKind.OVERLOADED, ErrorKind.UNAVAILABLE, ErrorKind.SERVER_ERROR])
def test_an_explicit_status_wins_everywhere(kind: ErrorKind) -> None:
    error = SimulatorError(kind, "x", status=502)
    for render in (openai_error, anthropic_error, gemini_error):
        assert render(error, "req_1").status == 502
