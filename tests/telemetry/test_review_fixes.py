"""Bounds and corrections found in review: cardinality caps, credentials, TTFT of hidden
reasoning, in-flight gauges, worker files, chunk counts, redaction and salted fingerprints."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from llm_simulator.config.loader import redacted
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.server.app import SimulatorApp
from llm_simulator.telemetry import stats as stats_module
from llm_simulator.telemetry.hub import Telemetry
from llm_simulator.telemetry.multiprocess import SharedStats
from llm_simulator.telemetry.stats import Stats
from tests.server.asgi_driver import call

JSON = {"content-type": "application/json"}


def _app(**config: Any) -> SimulatorApp:
    return SimulatorApp(SimulatorConfig.model_validate({"latency": {"multiplier": 0.01}, **config}))


def _chat(model: str = "gpt-4o", stream: bool = False, max_tokens: int = 6) -> bytes:
    return orjson.dumps(
        {"model": model, "stream": stream, "max_tokens": max_tokens, "messages": [{"role": "user", "content": "hi"}]}
    )


async def test_an_overlong_unknown_model_id_is_not_served() -> None:
    app = _app(models={"accept_unknown": True})
    assert (await call(app, "POST", "/v1/chat/completions", _chat("my-local-model"), headers=JSON)).status == 200
    got = await call(app, "POST", "/v1/chat/completions", _chat("m" * 300), headers=JSON)
    assert got.status == 404


async def test_model_series_beyond_the_cap_fold_into_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats_module, "MAX_MODELS", 2)
    app = _app(models={"accept_unknown": True})
    for name in ("a-1", "a-2", "a-3", "a-4"):
        await call(app, "POST", "/v1/chat/completions", _chat(name), headers=JSON)
    models = {m for (_, m) in app.stats.models}
    assert models == {"a-1", "a-2", "other"}
    assert app.stats.models[("openai", "other")].requests == 2


async def test_a_long_credential_is_fingerprinted_at_once_and_never_kept() -> None:
    app = _app()
    secret = "sk-" + "x" * 2000
    await call(app, "POST", "/v1/chat/completions", _chat(), headers={**JSON, "authorization": f"Bearer {secret}"})
    assert not any(secret in str(key) for key in app.stats._slots)
    (row,) = app.stats.key_rows()
    assert row["api_key"].startswith("sk-***x#")


async def test_responses_ttft_waits_for_the_visible_output() -> None:
    app = _app()
    body = orjson.dumps(
        {"model": "o3-mini", "input": "hi", "stream": True, "max_output_tokens": 400, "reasoning": {"effort": "low"}}
    )
    got = await call(app, "POST", "/v1/responses", body, headers=JSON)
    assert got.status == 200
    deltas = got.body.count(b"event: response.output_text.delta")
    totals = app.stats.models[("openai", "o3-mini")]
    assert deltas > 1
    assert totals.itl.count == deltas - 1  # one gap between each pair of visible tokens, none for reasoning


async def test_non_streamed_requests_count_as_running_and_streams_wait_for_their_first_token() -> None:
    app = _app(latency={"multiplier": 1.0, "default_profile": "slow"})
    task = asyncio.ensure_future(call(app, "POST", "/v1/chat/completions", _chat(), headers=JSON))
    stream = asyncio.ensure_future(call(app, "POST", "/v1/chat/completions", _chat(stream=True), headers=JSON))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if app.sim.queue_counts() == (1, 1):
            break
    assert app.sim.queue_counts() == (1, 1)  # the completion runs; the stream waits for its TTFT
    await asyncio.gather(task, stream)
    assert app.sim.queue_counts() == (0, 0)


def test_only_live_workers_count(tmp_path: Path) -> None:
    SharedStats(str(tmp_path), pid=2**22 + 777).write(Stats())  # no such process
    merged = SharedStats(str(tmp_path), pid=os.getpid()).merged(Stats())
    assert merged.workers == 1


def test_clearing_a_reused_directory_drops_earlier_runs(tmp_path: Path) -> None:
    SharedStats(str(tmp_path), pid=os.getppid()).write(Stats())
    SharedStats(str(tmp_path)).clear()
    assert not list(tmp_path.glob("worker-*.json"))


def test_concurrent_writes_of_one_worker_file_do_not_collide(tmp_path: Path) -> None:
    shared = SharedStats(str(tmp_path))
    stats = Stats()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(200):
                shared.write(stats)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert not list(tmp_path.glob(".*.tmp"))


async def test_stream_chunks_are_the_events_sent() -> None:
    app = _app()
    got = await call(app, "POST", "/v1/chat/completions", _chat(stream=True), headers=JSON)
    events = got.body.count(b"data: ")
    assert app.stats.models[("openai", "gpt-4o")].chunks == events


async def test_errors_of_the_simulators_own_endpoints_are_not_api_errors() -> None:
    app = _app()
    await call(app, "GET", "/admin/stats", headers={"origin": "https://evil.example"})  # refused: 403
    await call(app, "POST", "/v1/chat/completions", b"{", headers=JSON)  # an API error
    assert dict(app.stats.errors) == {("openai", "invalid_request"): 1}
    assert app.stats.auth_failures["admin_from_browser"] == 1


def test_config_show_masks_collector_and_webhook_secrets() -> None:
    config = SimulatorConfig.model_validate(
        {
            "telemetry": {
                "tracing": {"otlp_endpoint": "https://u:pw@collector:4318", "headers": {"X-Honeycomb-Team": "hc-1"}},
                "events": {"sinks": [{"type": "webhook", "url": "https://hooks.example/in?token=SECRET123"}]},
            }
        }
    )
    shown = orjson.dumps(redacted(config)).decode()
    for secret in ("pw@", "hc-1", "SECRET123"):
        assert secret not in shown


def test_fingerprints_are_salted_per_run_and_shared_by_workers(tmp_path: Path) -> None:
    one, two = Telemetry(SimulatorConfig(), Stats()), Telemetry(SimulatorConfig(), Stats())
    assert one.shown_key("Bearer sk-short") != two.shown_key("Bearer sk-short")
    metrics = {"telemetry": {"metrics": {"multiprocess_dir": str(tmp_path)}}}
    a = Telemetry(SimulatorConfig.model_validate(metrics), Stats())
    b = Telemetry(SimulatorConfig.model_validate(metrics), Stats())
    assert a.shown_key("Bearer sk-short") == b.shown_key("Bearer sk-short")


async def test_the_request_log_clips_huge_header_values() -> None:
    app = _app(telemetry={"request_log": {"enabled": True}})
    await call(app, "POST", "/v1/chat/completions", _chat(), headers={**JSON, "x-note": "n" * 5000})
    entry = orjson.loads((await call(app, "GET", "/admin/requests")).body)["requests"][0]
    assert len(entry["headers"]["x-note"]) <= 1025


async def test_a_legacy_completion_with_several_prompts_counts_all_of_them() -> None:
    app = _app()
    body = orjson.dumps({"model": "gpt-3.5-turbo-instruct", "prompt": ["one two", "three four five"], "max_tokens": 4})
    got = await call(app, "POST", "/v1/completions", body, headers=JSON)
    assert got.status == 200, got.body
    usage = orjson.loads(got.body)["usage"]
    (totals,) = app.stats.models.values()
    assert (totals.input_tokens, totals.output_tokens) == (usage["prompt_tokens"], usage["completion_tokens"])
