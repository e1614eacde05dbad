"""A non-streamed answer due at once (latency off) skips its timeline and gives the same answer.

``serve_generation`` answers a plan ``Simulator.answers_at_once`` accepts without opening a
timeline or waiting; forcing the timeline path (``answers_at_once`` → False) must give the same
status and body (ids and creation stamps aside) for every provider and for the tricky plans
(several choices, logprobs, tools, stop sequences, unicode), and the same telemetry.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.core.types import Endpoint, GenerationPlan, GenerationRequest, Message
from llm_simulator.engine.simulator import Simulator
from llm_simulator.server.app import SimulatorApp
from tests.server.asgi_driver import call

USER = [{"role": "user", "content": "Déjà vu 🙂, say something \u2028 long."}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CHAT = "/v1/chat/completions"
JSON_ASK = [{"role": "user", "content": "Reply in JSON: a city and its weather."}]
CASES: list[tuple[str, dict[str, Any]]] = [
    (CHAT, {"model": "gpt-4.1", "messages": USER, "max_tokens": 30, "seed": 3}),
    (CHAT, {"model": "gpt-4.1", "messages": USER, "n": 3, "seed": 4, "max_tokens": 12}),
    (CHAT, {"model": "gpt-4.1", "messages": USER, "logprobs": True, "top_logprobs": 2, "seed": 5, "max_tokens": 9}),
    (CHAT, {"model": "gpt-4.1", "messages": USER, "tools": [WEATHER], "tool_choice": "required", "seed": 6}),
    (CHAT, {"model": "gpt-4.1", "messages": USER, "stop": [" the", "."], "seed": 7, "ignore_eos": True}),
    (CHAT, {"model": "o3-mini", "messages": USER, "max_completion_tokens": 300, "seed": 8}),
    (CHAT, {"model": "gpt-4.1", "messages": JSON_ASK, "response_format": {"type": "json_object"}, "seed": 9}),
    ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": ["a", "b"], "max_tokens": 5, "seed": 1}),
    ("/v1/messages", {"model": "claude-sonnet-4-5", "max_tokens": 40, "messages": USER}),
    ("/v1beta/models/gemini-2.5-flash:generateContent", {"contents": [{"parts": [{"text": "Say something"}]}]}),
]
# Fields that differ between any two answers (random ids, clocks).
VARYING = {"id", "created", "created_at", "responseId", "system_fingerprint"}


def _steady(value: Any) -> Any:
    """``value`` with the per-answer ids and stamps blanked."""
    if isinstance(value, dict):
        return {k: None if k in VARYING else _steady(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_steady(v) for v in value]
    return value


async def _answer(path: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, Any]]:
    """Status, steady body and the request's telemetry counts from a fresh app (the run seeded)."""
    app = SimulatorApp(load_config(flags={"latency.enabled": False, "seed": 11}))
    captured = await call(app, "POST", path, orjson.dumps(body), headers={"content-type": "application/json"})
    snapshot = app.telemetry.stats.snapshot()
    # What the request counted (its tokens, cost and status), not how long it took.
    models = [{k: v for k, v in model.items() if k != "duration_ms"} for model in snapshot["models"]]
    return captured.status, _steady(orjson.loads(captured.body)), {"requests": snapshot["requests"], "models": models}


@pytest.mark.parametrize(("path", "body"), CASES)
async def test_the_answer_due_at_once_is_the_timelines_answer(
    path: str, body: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    at_once = await _answer(path, body)
    assert at_once[0] == 200
    monkeypatch.setattr(Simulator, "answers_at_once", lambda self, model, plan, pacing=None: False)
    assert await _answer(path, body) == at_once


def test_only_an_instant_answer_is_due_at_once() -> None:
    def due(**flags: Any) -> bool:
        sim = Simulator(load_config(flags=flags))
        spec = sim.resolve_model("gpt-4.1", "openai")
        assert spec is not None
        request = GenerationRequest("gpt-4.1", Endpoint.CHAT, (Message("user", "hi"),), 5)
        return sim.answers_at_once(spec, GenerationPlan(request, [], "fp"))

    assert due(**{"latency.enabled": False})
    assert not due(**{"latency.enabled": True})
