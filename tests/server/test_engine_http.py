"""The load-aware engine over a real socket: the official SDKs, overload errors, live vs virtual time."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
import yaml
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from llm_simulator.engine.load.deployment import DeploymentSpec
from llm_simulator.engine.load.replica import EngineSettings
from llm_simulator.engine.load.stepmodel import StepTimeModel
from llm_simulator.engine.load.virtual import Arrival, closed_loop, simulate
from tests.live import LiveServer, live_server

# A slow, noiseless engine whose steps are long enough to measure over HTTP on a loaded machine.
STEP = {
    "step_ms": 30.0,
    "weights_ms": 0.0,
    "prefill_ms_per_token": 0.05,
    "kv_ms_per_token": 0.0,
    "overlap": 0.0,
    "jitter_sigma": 0.0,
    "front_ms": 0.0,
}
TIGHT = {"kv_blocks": 10_000, "max_num_seqs": 1, "max_waiting": 1, "step": STEP}
BATCH = {"kv_blocks": 10_000, "max_num_seqs": 4, "max_num_batched_tokens": 4096, "prefix_caching": False, "step": STEP}


@pytest.fixture(scope="module")
def engine_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    config = {
        "seed": 5,
        "engine": {
            "deployments": {
                "tight": {**TIGHT, "models": ["gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash-lite"]},
                "batch": {**BATCH, "models": ["gpt-4o"]},
            }
        },
    }
    path = Path(tmp_path_factory.mktemp("engine")) / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    with live_server("--config", str(path)) as server:
        yield server


def _long_stream_started(server: LiveServer) -> openai.Stream[openai.types.chat.ChatCompletionChunk]:
    """Occupy the tight deployment's only seat with a long stream (read its first chunk)."""
    client = openai.OpenAI(base_url=server.openai_base, api_key="k", max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hold"}],
        max_tokens=400,
        stream=True,
        extra_body={"ignore_eos": True},
    )
    next(iter(stream))
    return stream


def test_openai_sdk_streams_through_the_engine(engine_server: LiveServer) -> None:
    client = openai.OpenAI(base_url=engine_server.openai_base, api_key="k", max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hello"}],
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"ignore_eos": True},
        )
    )
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == 12
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_each_sdk_sees_its_providers_overload_error(engine_server: LiveServer) -> None:
    """One request runs, one waits (the queue bound is 1), the next is refused in each wire format."""
    holder = _long_stream_started(engine_server)
    waiter = openai.OpenAI(base_url=engine_server.openai_base, api_key="k", max_retries=0)
    queued = waiter.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "wait"}], max_tokens=2, stream=True
    )
    try:
        with pytest.raises(openai.InternalServerError) as oa:
            waiter.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        assert oa.value.status_code == 503
        assert "overloaded" in oa.value.message

        claude = anthropic.Anthropic(base_url=engine_server.url, api_key="k", max_retries=0)
        # Anthropic's deployment is the same (shared by the three models), so it is full too.
        with pytest.raises(anthropic.APIStatusError) as an:
            claude.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}])
        assert an.value.status_code == 529
        assert an.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]

        options = types.HttpOptions(base_url=engine_server.url, retry_options=types.HttpRetryOptions(attempts=1))
        with genai.Client(api_key="k", http_options=options) as gemini, pytest.raises(genai_errors.ServerError) as ge:
            gemini.models.generate_content(model="gemini-2.5-flash-lite", contents="x")
        assert ge.value.code == 503
        assert ge.value.status == "UNAVAILABLE"
    finally:
        holder.close()
        queued.close()


async def _closed_loop_over_http(server: LiveServer, concurrency: int, per_client: int) -> tuple[list[float], int]:
    client = openai.AsyncOpenAI(base_url=server.openai_base, api_key="k", max_retries=0)
    e2e: list[float] = []
    prompt_tokens = 0

    async def one_client() -> None:
        nonlocal prompt_tokens
        for _ in range(per_client):
            start = time.monotonic()
            reply = await client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": "load " * 50}],
                max_tokens=8,
                extra_body={"ignore_eos": True},
            )
            e2e.append((time.monotonic() - start) * 1000)
            assert reply.usage is not None
            prompt_tokens = reply.usage.prompt_tokens

    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    await client.close()
    return e2e, prompt_tokens


def test_a_live_run_agrees_with_the_same_run_in_virtual_time(engine_server: LiveServer) -> None:
    """8 clients on 4 seats: queueing doubles E2E; live and virtual medians agree within 25 % + 30 ms.

    The tolerance covers HTTP and SDK overhead on a loaded 2-core machine; both sides use
    the same engine limits and step-time model, without noise.
    """
    concurrency, per_client = 8, 4
    live, prompt_tokens = asyncio.run(_closed_loop_over_http(engine_server, concurrency, per_client))
    spec = DeploymentSpec(
        "batch",
        EngineSettings(max_num_seqs=4, max_num_batched_tokens=4096, kv_blocks=10_000),
        StepTimeModel(**STEP),
    )
    total = concurrency * per_client
    first, after = closed_loop(concurrency, lambda k, now: Arrival(now, prompt_tokens, 8) if k < total else None)
    run = simulate(spec, first, next_arrival=after, seed=5)
    virtual = [r.e2e_ms for r in run.completed]
    assert len(virtual) == total == len(live)
    live_p50, virtual_p50 = statistics.median(live), statistics.median(virtual)
    # Queueing is visible in both: 8 clients on 4 seats wait about one request's time.
    assert virtual_p50 > 1.5 * 8 * STEP["step_ms"]
    assert abs(live_p50 - virtual_p50) <= 0.25 * virtual_p50 + 30.0, (live_p50, virtual_p50)


def test_metrics_show_the_engine(engine_server: LiveServer) -> None:
    """After traffic, /metrics carries vLLM's engine names per deployment and replica."""
    client = openai.OpenAI(base_url=engine_server.openai_base, api_key="k", max_retries=0)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "m"}], max_tokens=3)
    text = httpx.get(engine_server.url + "/metrics", timeout=10).text
    assert 'vllm:kv_cache_usage_perc{engine="0",model_name="batch"}' in text
    assert 'vllm:num_requests_running{engine="0",model_name="batch"}' in text
    assert 'vllm:num_preemptions_total{engine="0",model_name="batch"}' in text
    count = 'llm_simulator_engine_step_seconds_count{engine="0",model_name="batch"}'
    steps = [line for line in text.splitlines() if line.startswith(count)]
    assert steps and float(steps[0].split()[-1]) >= 3
    assert 'llm_simulator_engine_batch_size_bucket{engine="0",le="1",model_name="batch"}' in text


def test_every_sdk_flow_works_unchanged_against_the_engine(engine_server: LiveServer) -> None:
    """Streams and whole responses in each wire format, n > 1 choices and the Responses API."""
    oa = openai.OpenAI(base_url=engine_server.openai_base, api_key="k", max_retries=0)
    several = oa.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "n"}], n=3, max_tokens=6, extra_body={"ignore_eos": True}
    )
    assert [c.index for c in several.choices] == [0, 1, 2]
    assert several.usage is not None and several.usage.completion_tokens == 18
    response = oa.responses.create(model="gpt-4o", input="hello", max_output_tokens=16)
    assert response.status in ("completed", "incomplete") and response.output_text

    claude = anthropic.Anthropic(base_url=engine_server.url, api_key="k", max_retries=0)
    message = claude.messages.create(
        model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.usage.output_tokens >= 1
    with claude.messages.stream(
        model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.stop_reason in ("end_turn", "max_tokens")

    options = types.HttpOptions(base_url=engine_server.url, retry_options=types.HttpRetryOptions(attempts=1))
    with genai.Client(api_key="k", http_options=options) as gemini:
        chunks = list(
            gemini.models.generate_content_stream(
                model="gemini-2.5-flash-lite",
                contents="hello",
                config=types.GenerateContentConfig(
                    max_output_tokens=12, thinking_config=types.ThinkingConfig(thinking_budget=0)
                ),
            )
        )
    assert "".join(c.text or "" for c in chunks)
    assert chunks[-1].usage_metadata is not None and chunks[-1].usage_metadata.candidates_token_count
