"""Every generation endpoint goes through the one pipeline: fixtures reach legacy completions and embeddings."""

from __future__ import annotations

from typing import Any

import orjson

from llm_simulator.config import load_config
from llm_simulator.server.app import SimulatorApp
from tests.server.asgi_driver import Captured, call

RULES = b"""
rules:
  - name: legacy
    match: {endpoint: completion, message: {contains: scripted please}}
    respond: {text: scripted text}
  - name: embedding-error
    match: {endpoint: embedding, message: {contains: refuse me}}
    respond: {error: {status: 503, message: Embeddings are down (fixture).}}
  - name: gemini-embedding-error
    match: {endpoint: embedding, provider: gemini}
    respond: {error: {status: 429, message: Slow down (fixture).}}
"""


def make_app() -> SimulatorApp:
    return SimulatorApp(load_config(flags={"latency.enabled": False}))


def body(captured: Captured) -> Any:
    return orjson.loads(captured.body)


async def loaded_app() -> SimulatorApp:
    app = make_app()
    assert (await call(app, "POST", "/admin/fixtures", RULES)).status == 200
    return app


async def test_legacy_completions_are_scripted_for_every_prompt() -> None:
    app = await loaded_app()
    request = {"model": "gpt-3.5-turbo-instruct", "prompt": ["scripted please", "scripted please"], "max_tokens": 50}
    got = await call(app, "POST", "/v1/completions", orjson.dumps(request))
    assert got.status == 200, got.body
    assert [c["text"] for c in body(got)["choices"]] == ["scripted text", "scripted text"]
    other = await call(app, "POST", "/v1/completions", orjson.dumps({**request, "prompt": "hello"}))
    assert body(other)["choices"][0]["text"] != "scripted text"


async def test_embedding_fixtures_answer_with_their_error() -> None:
    app = await loaded_app()
    refused = await call(
        app, "POST", "/v1/embeddings", orjson.dumps({"model": "text-embedding-3-small", "input": ["a", "refuse me"]})
    )
    assert refused.status == 503
    assert body(refused)["error"]["message"] == "Embeddings are down (fixture)."
    served = await call(
        app, "POST", "/v1/embeddings", orjson.dumps({"model": "text-embedding-3-small", "input": "fine"})
    )
    assert served.status == 200 and len(body(served)["data"]) == 1
    gemini = await call(
        app,
        "POST",
        "/v1beta/models/text-embedding-004:embedContent",
        orjson.dumps({"content": {"parts": [{"text": "x"}]}}),
    )
    assert gemini.status == 429
