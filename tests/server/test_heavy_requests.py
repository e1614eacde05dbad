"""Worst-case requests do not freeze the worker, and their budgets answer in each provider's shape.

All in process, on one event loop (one worker): a heavy request runs through the app while a
probe task asks ``/health`` over and over. Before the CPU-heavy steps moved off the loop, a
3 MB prompt without spaces held every probe for as long as tiktoken took to count it (about
1.5 s idle, several seconds on a loaded machine; 4.3 s for a 7.5 MB one).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.engine.schema import api as schema_api
from llm_simulator.engine.schema import budget
from llm_simulator.server.app import SimulatorApp
from tests.server.asgi_driver import call

ANTHROPIC = {"anthropic-version": "2023-06-01"}
# Models with a 1,000-token window: a 200 kB text is over it by its byte length alone
# (200,000 / 128 bytes per token at most = 1,563 tokens at least), however it tokenises.
SMALL_MODELS = [
    {"id": "tiny-gpt", "provider": "openai", "kind": "chat", "context_window": 1000, "max_output_tokens": 100},
    {"id": "tiny-claude", "provider": "anthropic", "kind": "chat", "context_window": 1000, "max_output_tokens": 100},
    {"id": "tiny-gemini", "provider": "google", "kind": "chat", "context_window": 1000, "max_output_tokens": 100},
]
LONG = "a" * 200_000
FLOOR = 1563  # ceil(200_000 / 128), where tiktoken would count 25,000
FRAMED = FLOOR + 7  # with the chat framing of one user turn (OpenAI's and Anthropic's alike)


def make_app() -> SimulatorApp:
    return SimulatorApp(load_config(flags={"latency.enabled": False, "models.add": SMALL_MODELS}))


def chat(model: str, text: str, **extra: Any) -> bytes:
    return orjson.dumps({"model": model, "messages": [{"role": "user", "content": text}], **extra})


def claude(model: str, text: str, **extra: Any) -> bytes:
    return orjson.dumps({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": text}], **extra})


def gemini(text: str, **extra: Any) -> bytes:
    return orjson.dumps({"contents": [{"role": "user", "parts": [{"text": text}]}], **extra})


async def _probe_while(app: SimulatorApp, work: Any) -> tuple[Any, list[float]]:
    """Run ``work`` while probing ``/health`` every 10 ms; its result and the probes' waits.

    A probe's wait runs from when it was due (10 ms after the previous answer) to its answer:
    a probe due while the loop is frozen waits for the thaw, as a client's would.
    """
    waits: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        due = time.perf_counter()
        while not done.is_set():
            assert (await call(app, "GET", "/health")).status == 200
            waits.append(time.perf_counter() - due)
            await asyncio.sleep(0.01)
            due += 0.01 + waits[-1]

    prober = asyncio.create_task(probe())
    await asyncio.sleep(0.05)
    try:
        result = await work
        await asyncio.sleep(0.1)  # a probe that fell due during a freeze is answered now
    finally:
        done.set()
        await prober
    return result, waits


async def test_a_huge_prompt_does_not_freeze_the_worker() -> None:
    app = make_app()
    text = "a" * 2_000_000  # one 2 MB pre-token: tiktoken's slowest kind of text
    start = time.perf_counter()
    got, waits = await _probe_while(app, call(app, "POST", "/v1/chat/completions", chat("gpt-4.1", text)))
    took = time.perf_counter() - start
    assert got.status == 200, got.body
    # Counted exactly (250,000 tokens of "aaaaaaaa" and 7 of chat framing): the window holds it.
    assert orjson.loads(got.body)["usage"]["prompt_tokens"] == 250_000 + 7
    assert took > 0.3, "the request was too quick to tell anything"
    # Generous for a loaded 2-core machine; the request itself took seconds.
    assert max(waits) < 0.5, f"a probe waited {max(waits):.2f} s while the request took {took:.2f} s"


async def test_many_embedding_inputs_do_not_freeze_the_worker() -> None:
    app = make_app()
    inputs = [f"document {i}: " + "lorem ipsum dolor sit amet " * 5 for i in range(2048)]
    body = orjson.dumps({"model": "text-embedding-3-small", "input": inputs})
    start = time.perf_counter()
    got, waits = await _probe_while(app, call(app, "POST", "/v1/embeddings", body))
    took = time.perf_counter() - start
    assert got.status == 200, got.body
    assert len(orjson.loads(got.body)["data"]) == 2048
    # A worker frozen by the whole batch would keep a probe waiting about as long as the
    # request took; a loaded CI machine alone can delay a probe by half a second.
    assert max(waits) < max(0.5, took / 2), f"a probe waited {max(waits):.2f} s of {took:.2f} s"


# --- the byte-length pre-check: refused at once, in each provider's context-length shape ------


async def test_openai_prompt_over_the_window_by_its_bytes() -> None:
    got = await call(make_app(), "POST", "/v1/chat/completions", chat("tiny-gpt", LONG))
    assert got.status == 400
    error = orjson.loads(got.body)["error"]
    assert error["code"] == "context_length_exceeded"
    assert error["type"] == "invalid_request_error"
    assert f"you requested {FRAMED} tokens" in error["message"]


async def test_openai_embedding_input_over_the_window_by_its_bytes() -> None:
    body = orjson.dumps({"model": "text-embedding-3-small", "input": ["hi", "a" * 1_100_000]})
    got = await call(make_app(), "POST", "/v1/embeddings", body)
    assert got.status == 400
    error = orjson.loads(got.body)["error"]
    assert error["code"] == "context_length_exceeded"
    assert "input[1]" in error["message"]


async def test_anthropic_prompt_over_the_window_by_its_bytes() -> None:
    got = await call(make_app(), "POST", "/v1/messages", claude("tiny-claude", LONG), headers=ANTHROPIC)
    assert got.status == 400
    payload = orjson.loads(got.body)
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "invalid_request_error"
    assert payload["error"]["message"] == f"prompt is too long: {FRAMED} tokens > 1000 maximum"


async def test_gemini_prompt_over_the_window_by_its_bytes() -> None:
    got = await call(make_app(), "POST", "/v1beta/models/tiny-gemini:generateContent", gemini(LONG))
    assert got.status == 400
    error = orjson.loads(got.body)["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"].startswith(f"The input token count ({FLOOR}) exceeds")


async def test_count_endpoints_stay_exact_over_the_window() -> None:
    app = make_app()
    counted = orjson.dumps({"model": "tiny-claude", "messages": [{"role": "user", "content": LONG}]})
    got = await call(app, "POST", "/v1/messages/count_tokens", counted, headers=ANTHROPIC)
    assert orjson.loads(got.body)["input_tokens"] > 20_000  # 25,000 "aaaaaaaa" tokens plus framing
    got = await call(app, "POST", "/v1beta/models/tiny-gemini:countTokens", gemini(LONG))
    assert orjson.loads(got.body)["totalTokens"] == 25_000


# --- budgets: provider-shaped 400s ----------------------------------------------------------


async def test_openai_embeddings_token_cap() -> None:
    inputs = ["word " * 2000] * 160  # 160 × 2,001 tokens = 320,160 > 300,000
    body = orjson.dumps({"model": "text-embedding-3-small", "input": inputs})
    got = await call(make_app(), "POST", "/v1/embeddings", body)
    assert got.status == 400
    error = orjson.loads(got.body)["error"]
    assert error["code"] == "max_tokens_per_request"
    assert error["message"] == "Requested 320160 tokens, max 300000 tokens per request"


def _costly(i: int) -> dict[str, Any]:
    """A distinct object schema (no cache hits) with 22 subschemas to check."""
    return {"type": "object", "properties": {f"p{i}_{k}": {"type": "integer", "minimum": k} for k in range(20)}}


@pytest.fixture
def small_schema_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request budget of ~5 such schemas, and a cold schema cache."""
    monkeypatch.setattr(budget, "REQUEST_WORK", 6_000)
    schema_api.clear_cache()


@pytest.mark.usefixtures("small_schema_budget")
async def test_openai_schema_budget() -> None:
    tools = [{"type": "function", "function": {"name": f"f{i}", "parameters": _costly(i)}} for i in range(10)]
    got = await call(make_app(), "POST", "/v1/chat/completions", chat("gpt-4.1", "hi", tools=tools))
    assert got.status == 400
    error = orjson.loads(got.body)["error"]
    assert error["type"] == "invalid_request_error"
    assert "need too much work" in error["message"]
    assert error["param"].startswith("tools[")


@pytest.mark.usefixtures("small_schema_budget")
async def test_anthropic_schema_budget() -> None:
    tools = [{"name": f"f{i}", "input_schema": _costly(i)} for i in range(10)]
    got = await call(
        make_app(), "POST", "/v1/messages", claude("claude-sonnet-4-5", "hi", tools=tools), headers=ANTHROPIC
    )
    assert got.status == 400
    payload = orjson.loads(got.body)
    assert payload["error"]["type"] == "invalid_request_error"
    assert "need too much work" in payload["error"]["message"]


@pytest.mark.usefixtures("small_schema_budget")
async def test_gemini_schema_budget() -> None:
    declarations = [{"name": f"f{i}", "parameters": _costly(i)} for i in range(10)]
    body = gemini("hi", tools=[{"functionDeclarations": declarations}])
    got = await call(make_app(), "POST", "/v1beta/models/gemini-2.5-flash:generateContent", body)
    assert got.status == 400
    error = orjson.loads(got.body)["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "need too much work" in error["message"]


@pytest.mark.usefixtures("small_schema_budget")
async def test_schemas_refused_by_the_budget_are_accepted_alone() -> None:
    app = make_app()
    tools = [{"type": "function", "function": {"name": f"f{i}", "parameters": _costly(i)}} for i in range(10)]
    assert (await call(app, "POST", "/v1/chat/completions", chat("gpt-4.1", "hi", tools=tools))).status == 400
    # Running out of the request's budget is not cached as the schema's own failure.
    for tool in tools:
        got = await call(app, "POST", "/v1/chat/completions", chat("gpt-4.1", "hi", tools=[tool]))
        assert got.status == 200, got.body


def test_embeddings_rendered_item_by_item_are_the_bytes_of_one_dump() -> None:
    """The body is joined from per-item dumps (so orjson never holds the GIL for the whole list)."""
    import orjson

    from llm_simulator.engine.embeddings import embed
    from llm_simulator.providers.openai.embeddings import encode_base64, render

    inputs = [("hello world", 2), ("foo", 1), ("", 0)]
    for as_base64 in (False, True):
        data = [
            {"object": "embedding", "index": i, "embedding": encode_base64(embed(t, 16)) if as_base64 else embed(t, 16)}
            for i, (t, _) in enumerate(inputs)
        ]
        whole = {"object": "list", "data": data, "model": "m", "usage": {"prompt_tokens": 3, "total_tokens": 3}}
        assert render(inputs, 16, as_base64, "m", 3) == orjson.dumps(whole)
    assert orjson.loads(render([], 16, False, "m", 0))["data"] == []
