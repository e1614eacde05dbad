"""Chaos and rate limits through the app, in process: rendering per provider, breaker, scenarios, seeds."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.clock import FakeClock
from llm_simulator.server.app import SimulatorApp
from tests.server.asgi_driver import Captured, call

CHAT = orjson.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20})
STREAM = orjson.dumps(
    {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20, "stream": True}
)
CLAUDE = orjson.dumps({"model": "claude-sonnet-4-6", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]})
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:generateContent"
GEMINI = orjson.dumps({"contents": [{"parts": [{"text": "hi"}]}]})


def make_app(clock: FakeClock | None = None, /, **flags: Any) -> SimulatorApp:
    config = load_config(flags={"latency.enabled": False, **flags})
    return SimulatorApp(config, Simulator(config, clock=clock) if clock is not None else None)


def body(captured: Captured) -> Any:
    return orjson.loads(captured.body)


async def chat(app: SimulatorApp, **headers: str) -> Captured:
    return await call(app, "POST", "/v1/chat/completions", CHAT, headers=headers)


# -- error rendering per provider -------------------------------------------------------------


@pytest.mark.parametrize(
    ("error_type", "openai_status", "anthropic", "gemini"),
    [
        ("rate_limit", 429, (429, "rate_limit_error"), (429, "RESOURCE_EXHAUSTED")),
        ("quota_exhausted", 429, (400, "invalid_request_error"), (429, "RESOURCE_EXHAUSTED")),
        ("overloaded", 503, (529, "overloaded_error"), (503, "UNAVAILABLE")),
        ("server_error", 500, (500, "api_error"), (500, "INTERNAL")),
        ("bad_gateway", 502, (502, "api_error"), (502, "UNAVAILABLE")),
        ("unavailable", 503, (529, "overloaded_error"), (503, "UNAVAILABLE")),
        ("authentication", 401, (401, "authentication_error"), (400, "INVALID_ARGUMENT")),  # Google's bad key
        ("permission", 403, (403, "permission_error"), (403, "PERMISSION_DENIED")),
        ("invalid_request", 400, (400, "invalid_request_error"), (400, "INVALID_ARGUMENT")),
        ("context_length", 400, (400, "invalid_request_error"), (400, "INVALID_ARGUMENT")),
        ("content_filter", 400, (400, "invalid_request_error"), (400, "INVALID_ARGUMENT")),
    ],
)
async def test_each_error_type_in_each_providers_shape(
    error_type: str, openai_status: int, anthropic: tuple[int, str], gemini: tuple[int, str]
) -> None:
    app = make_app()
    control = {"x-simulator-chaos": f"error={error_type}"}
    openai = await chat(app, **control)
    assert openai.status == openai_status
    assert set(body(openai)["error"]) == {"message", "type", "param", "code"}
    claude = await call(app, "POST", "/v1/messages", CLAUDE, headers={**control, "anthropic-version": "2023-06-01"})
    assert (claude.status, body(claude)["error"]["type"]) == anthropic
    assert body(claude)["type"] == "error"
    google = await call(app, "POST", GEMINI_PATH, GEMINI, headers=control)
    assert (google.status, body(google)["error"]["status"]) == gemini
    assert body(google)["error"]["code"] == gemini[0]


async def test_custom_status_message_and_retry_hint() -> None:
    app = make_app()
    got = await chat(app, **{"x-simulator-chaos": "error=server_error; status=502; message=Upstream burped."})
    assert got.status == 502 and body(got)["error"]["message"] == "Upstream burped."
    limited = await chat(app, **{"x-simulator-chaos": "error=rate_limit; retry_after=2.5"})
    assert limited.headers["retry-after"] == "3" and limited.headers["retry-after-ms"] == "2500"
    assert limited.headers["x-should-retry"] == "true"
    assert body(limited)["error"]["type"] == "requests"
    quota = await chat(app, **{"x-simulator-chaos": "error=quota_exhausted"})
    assert quota.headers["x-should-retry"] == "false"
    assert body(quota)["error"]["code"] == "insufficient_quota"


async def test_a_timeout_answers_504_after_its_delay() -> None:
    app = make_app()
    started = time.monotonic()
    got = await chat(app, **{"x-simulator-chaos": "error=timeout; delay_ms=150"})
    assert got.status == 504 and time.monotonic() - started >= 0.14


async def test_a_hang_answers_nothing_until_the_client_leaves() -> None:
    app = make_app()
    gone = asyncio.Event()
    task = asyncio.ensure_future(
        call(app, "POST", "/v1/chat/completions", CHAT, headers={"x-simulator-chaos": "error=hang"}, disconnect=gone)
    )
    await asyncio.sleep(0.1)
    assert not task.done()
    gone.set()
    got = await asyncio.wait_for(task, 2)
    assert got.status == 0 and got.chunks == []
    assert [r["status"] for r in app.stats.snapshot()["requests"]] == [499]


async def test_a_drain_ends_a_hung_request_with_the_providers_503() -> None:
    app = make_app()
    task = asyncio.ensure_future(chat(app, **{"x-simulator-chaos": "error=hang"}))
    await asyncio.sleep(0.05)
    assert not task.done()
    await app.drain(0.05)
    got = await asyncio.wait_for(task, 2)
    assert got.status == 503 and body(got)["error"]["code"] == "server_shutting_down"


async def test_a_non_streamed_disconnect_cuts_the_body() -> None:
    app = make_app()
    with pytest.raises(Exception, match="req_"):
        await chat(app, **{"x-simulator-chaos": "fault=disconnect; after=2"})


async def test_no_terminator_ends_the_stream_cleanly_without_done() -> None:
    app = make_app()
    got = await call(
        app, "POST", "/v1/chat/completions", STREAM, headers={"x-simulator-chaos": "fault=no_terminator; after=3"}
    )
    assert got.complete and got.status == 200
    assert b"[DONE]" not in got.body
    assert got.body.count(b'"content":"') - 1 == 3  # the role chunk has an empty content


async def test_bad_control_values_are_400s_naming_the_header() -> None:
    app = make_app()
    for value in ("error=nope", "fault=explode", "latency=-1", "after=3", "preset=unknown", "junk", "status=200"):
        got = await chat(app, **{"x-simulator-chaos": value})
        assert got.status == 400, value
        assert body(got)["error"]["param"] == "x-simulator-chaos"


async def test_the_control_header_can_be_switched_off() -> None:
    app = make_app(**{"chaos.control_header": False})
    assert (await chat(app, **{"x-simulator-chaos": "error=server_error"})).status == 200


# -- rules and global probability --------------------------------------------------------------


async def test_rules_filter_by_provider_model_endpoint_key_and_header() -> None:
    rule = {
        "error_type": "server_error",
        "providers": ["openai"],
        "models": ["gpt-4*"],
        "endpoints": ["chat"],
        "api_keys": ["sk-victim"],
        "headers": {"x-tenant": "blue*"},
    }
    app = make_app(**{"chaos.enabled": True, "chaos.rules": [rule]})
    victim = {"authorization": "Bearer sk-victim", "x-tenant": "blue-7"}
    assert (await chat(app, **victim)).status == 500
    assert (await chat(app, **{**victim, "x-tenant": "red"})).status == 200
    assert (await chat(app, authorization="Bearer sk-other", **{"x-tenant": "blue"})).status == 200
    other_model = orjson.dumps({"model": "gpt-5.1", "messages": [{"role": "user", "content": "hi"}]})
    assert (await call(app, "POST", "/v1/chat/completions", other_model, headers=victim)).status == 200
    legacy = orjson.dumps({"model": "davinci-002", "prompt": "hi", "max_tokens": 3})
    assert (await call(app, "POST", "/v1/completions", legacy, headers=victim)).status == 200


async def test_global_probability_scales_every_rule() -> None:
    rule = {"error_type": "server_error", "probability": 1.0}
    off = make_app(**{"chaos.enabled": True, "chaos.probability": 0.0, "chaos.rules": [rule]})
    assert {(await chat(off)).status for _ in range(20)} == {200}
    on = make_app(**{"chaos.enabled": True, "chaos.probability": 1.0, "chaos.rules": [rule]})
    assert {(await chat(on)).status for _ in range(5)} == {500}


async def test_the_default_mix_fails_at_the_global_probability_reproducibly() -> None:
    async def pattern(seed: int) -> list[int]:
        app = make_app(**{"chaos.enabled": True, "chaos.probability": 0.3, "seed": seed})
        return [(await chat(app)).status for _ in range(200)]

    first = await pattern(5)
    assert first == await pattern(5)
    assert first != await pattern(6)
    failures = [s for s in first if s != 200]
    assert set(failures) <= {429, 500, 503}
    assert 35 <= len(failures) <= 85  # 30 % of 200, with generous slack for the draw


async def test_a_preset_is_applied_and_listed() -> None:
    app = make_app(**{"chaos.enabled": True, "chaos.preset": "full_outage"})
    got = await chat(app)
    assert got.status == 503
    status = body(await call(app, "GET", "/admin/chaos"))
    assert status["preset"] == "full_outage" and status["effective_rules"][0]["error_type"] == "unavailable"
    assert status["injections"] == {"unavailable": 1}


# -- admin API ------------------------------------------------------------------------------------


async def test_admin_api_enables_replaces_and_disables() -> None:
    app = make_app()
    assert (await chat(app)).status == 200
    rules = {"rules": [{"name": "boom", "error_type": "bad_gateway"}], "enabled": True}
    updated = await call(app, "PUT", "/admin/chaos", orjson.dumps(rules))
    assert updated.status == 200 and body(updated)["rules"] == [{"name": "boom", "error_type": "bad_gateway"}]
    assert (await chat(app)).status == 502
    assert (await call(app, "POST", "/admin/chaos/disable")).status == 200
    assert (await chat(app)).status == 200
    await call(app, "POST", "/admin/chaos/enable")
    assert (await chat(app)).status == 502
    cleared = body(await call(app, "DELETE", "/admin/chaos/rules"))
    assert cleared["rules"] == [] and cleared["effective_rules"][0]["name"] == "default_mix"


async def test_admin_api_rejects_bad_settings_naming_the_field() -> None:
    app = make_app()
    for payload, needle in (
        (b"{not json", "not valid JSON"),
        (b'{"probability": 2}', "probability"),
        (b'{"rules": [{"error_type": "nope"}]}', "rules.0.error_type"),
        (b'{"rules": [{"name": "no effect"}]}', "needs an effect"),
        (b'{"surprise": 1}', "surprise"),
        (b'{"scenarios": [{"type": "outage"}]}', "duration_s"),
    ):
        got = await call(app, "PUT", "/admin/chaos", payload)
        assert got.status == 400, payload
        assert needle in body(got)["error"]["message"], body(got)


# -- circuit breaker ------------------------------------------------------------------------------

BREAKER = {
    "chaos.circuit_breaker": {
        "enabled": True,
        "failure_threshold": 2,
        "failure_window_s": 60,
        "recovery_timeout_s": 30,
        "success_threshold": 1,
    }
}


async def test_the_breaker_is_fed_by_organic_failures_too() -> None:
    fixtures = b"rules:\n  - match: {message: crash}\n    respond: {error: {status: 500}}\n"
    clock = FakeClock()
    app = make_app(clock, **BREAKER)
    assert (await call(app, "POST", "/admin/fixtures", fixtures)).status == 200
    crash = orjson.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "crash"}]})
    for _ in range(2):
        assert (await call(app, "POST", "/v1/chat/completions", crash)).status == 500
    refused = await chat(app)
    assert refused.status == 503 and body(refused)["error"]["code"] == "circuit_open"
    assert refused.headers["retry-after"] == "30"
    breakers = body(await call(app, "GET", "/admin/circuit-breakers"))
    assert breakers["models"]["gpt-4.1"]["state"] == "open"
    # Another model is unaffected; a 4xx would not have counted.
    other = orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert (await call(app, "POST", "/v1/chat/completions", other)).status == 200
    clock.advance_to(clock.now() + 30.0)
    assert (await chat(app)).status == 200
    breakers = body(await call(app, "GET", "/admin/circuit-breakers"))
    assert breakers["models"]["gpt-4.1"]["state"] == "closed"


async def test_a_broken_stream_counts_as_a_failure() -> None:
    app = make_app(**BREAKER)
    for _ in range(2):
        await call(app, "POST", "/v1/chat/completions", STREAM, headers={"x-simulator-chaos": "fault=error_event"})
    assert (await chat(app)).status == 503
    reset = await call(app, "POST", "/admin/circuit-breakers/reset")
    assert body(reset)["models"] == {}  # every breaker closed and forgotten
    assert (await chat(app)).status == 200


# -- scenarios on a fake clock ---------------------------------------------------------------------


async def test_a_scenario_timeline_runs_on_the_injected_clock() -> None:
    clock = FakeClock()
    scenarios = [
        {"type": "outage", "start_s": 10, "duration_s": 5, "error_type": "unavailable"},
        {"type": "brownout", "start_s": 20, "duration_s": 5, "latency_multiplier": 4},
    ]
    app = make_app(clock, **{"chaos.enabled": True, "chaos.scenarios": scenarios})
    t0 = clock.now()
    assert (await chat(app)).status == 200
    clock.advance_to(t0 + 12)
    assert (await chat(app)).status == 503
    clock.advance_to(t0 + 15)
    assert (await chat(app)).status == 200
    clock.advance_to(t0 + 21)
    status = body(await call(app, "GET", "/admin/chaos"))["scenarios"]
    assert [s["active"] for s in status["scenarios"]] == [False, True]
    await call(app, "POST", "/admin/chaos/scenarios/restart")
    clock.advance_to(t0 + 21 + 11)
    assert (await chat(app)).status == 503


# -- rate limits through the app ---------------------------------------------------------------------


def limited_app(**tier: Any) -> SimulatorApp:
    return make_app(**{"rate_limits.enabled": True, "rate_limits.tiers": [tier]})


async def test_openai_rate_limit_headers_on_success_streams_and_429() -> None:
    app = limited_app(requests_per_minute=2, tokens_per_minute=1000)
    first = await chat(app, authorization="Bearer sk-a")
    assert first.status == 200
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-reset-requests"] == "30s"
    assert first.headers["x-ratelimit-limit-tokens"] == "1000"
    streamed = await call(app, "POST", "/v1/chat/completions", STREAM, headers={"authorization": "Bearer sk-a"})
    assert streamed.headers["x-ratelimit-remaining-requests"] == "0"
    refused = await chat(app, authorization="Bearer sk-a")
    assert refused.status == 429
    error = body(refused)["error"]
    assert error["type"] == "requests" and error["code"] == "rate_limit_exceeded"
    assert "on requests per min (RPM): Limit 2, Used 2, Requested 1" in error["message"]
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    # The window opened at the first request: the time since then (a few ms on a loaded machine) is gone.
    assert refused.headers["retry-after"] == "30"
    assert 29_000 <= int(refused.headers["retry-after-ms"]) <= 30_000
    # Another key has its own bucket.
    assert (await chat(app, authorization="Bearer sk-b")).status == 200


async def test_tokens_are_charged_the_estimate_then_reconciled() -> None:
    app = limited_app(tokens_per_minute=10_000)
    got = await chat(app)
    prompt = body(got)["usage"]["prompt_tokens"]
    produced = body(got)["usage"]["completion_tokens"]
    assert int(got.headers["x-ratelimit-remaining-tokens"]) == 10_000 - prompt - 20
    await asyncio.sleep(0)  # the settlement of the unused estimate lands
    after = await chat(app)
    # The first request's unused output estimate (20 - produced) came back.
    used_before = prompt + produced
    assert int(after.headers["x-ratelimit-remaining-tokens"]) == pytest.approx(
        10_000 - used_before - prompt - 20, abs=1
    )


async def test_anthropic_rate_limit_headers_and_429() -> None:
    app = limited_app(requests_per_minute=1, input_tokens_per_minute=5000, output_tokens_per_minute=1000)
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant"}
    ok = await call(app, "POST", "/v1/messages", CLAUDE, headers=headers)
    assert ok.status == 200
    assert ok.headers["anthropic-ratelimit-requests-limit"] == "1"
    assert ok.headers["anthropic-ratelimit-requests-remaining"] == "0"
    reset = dt.datetime.fromisoformat(ok.headers["anthropic-ratelimit-requests-reset"])
    assert reset.tzinfo is not None
    assert ok.headers["anthropic-ratelimit-output-tokens-remaining"] == "980"
    assert ok.headers["anthropic-ratelimit-tokens-remaining"] == "980"  # the tighter of input/output
    refused = await call(app, "POST", "/v1/messages", CLAUDE, headers=headers)
    assert refused.status == 429 and body(refused)["error"]["type"] == "rate_limit_error"
    assert "of 1 requests per minute" in body(refused)["error"]["message"]
    assert refused.headers["retry-after"] == "60"


async def test_gemini_quota_refusal_has_quota_failure_and_retry_info() -> None:
    app = limited_app(requests_per_day=1)
    assert (await call(app, "POST", GEMINI_PATH, GEMINI, query="key=g1")).status == 200
    refused = await call(app, "POST", GEMINI_PATH, GEMINI, query="key=g1")
    assert refused.status == 429
    error = body(refused)["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED"
    kinds = {d["@type"].rsplit(".", 1)[-1]: d for d in error["details"]}
    violation = kinds["QuotaFailure"]["violations"][0]
    assert violation["quotaId"] == "GenerateRequestsPerDayPerProjectPerModel"
    assert violation["quotaValue"] == "1" and violation["quotaDimensions"]["model"] == "gemini-2.5-flash"
    # A day's budget of one refills in 86400 s, less the moments between the two requests.
    delay = float(kinds["RetryInfo"]["retryDelay"].removesuffix("s"))
    assert 86_390 <= delay <= 86_400
    assert "x-ratelimit-limit-requests" not in refused.headers  # Google sends no such headers


async def test_a_request_larger_than_the_budget_is_refused_for_good() -> None:
    app = limited_app(tokens_per_minute=10)
    refused = await chat(app)
    assert refused.status == 429 and refused.headers["x-should-retry"] == "false"
    assert "retry-after" not in refused.headers
    message = body(refused)["error"]["message"]
    assert message.startswith("Request too large for gpt-4.1 in organization org-simulator on tokens per min (TPM)")
    assert "Limit 10, Requested" in message


async def test_exactly_the_limit_is_admitted_under_concurrency() -> None:
    app = limited_app(requests_per_minute=20)
    results = await asyncio.gather(*(chat(app) for _ in range(100)))
    statuses = [r.status for r in results]
    assert statuses.count(200) == 20 and statuses.count(429) == 80
    status = body(await call(app, "GET", "/admin/rate-limits"))
    assert status["refused"] == 80
    await call(app, "POST", "/admin/rate-limits/reset")
    assert (await chat(app)).status == 200


async def test_an_explicit_status_is_kept_even_when_it_is_the_kinds_default() -> None:
    app = make_app()
    anthropic = {"anthropic-version": "2023-06-01"}
    implicit = await call(
        app, "POST", "/v1/messages", CLAUDE, headers={**anthropic, "x-simulator-chaos": "error=unavailable"}
    )
    explicit = await call(
        app, "POST", "/v1/messages", CLAUDE, headers={**anthropic, "x-simulator-chaos": "error=unavailable; status=503"}
    )
    assert (implicit.status, explicit.status) == (529, 503)
    assert (await chat(app, **{"x-simulator-chaos": "error=overloaded; status=529"})).status == 529
    denied = await chat(app, **{"x-simulator-chaos": "error=authentication; status=403"})
    assert denied.status == 403 and body(denied)["error"]["code"] == "permission_denied"


async def test_rules_match_the_requested_or_the_resolved_model_id() -> None:
    # The rule names the dated id; the alias resolves to it.
    rule = {"error_type": "server_error", "models": ["claude-sonnet-4-5-20250929"], "api_keys": ["sk-team-*"]}
    app = make_app(**{"chaos.enabled": True, "chaos.rules": [rule]})
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "sk-team-7"}
    for model in ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"):
        request = orjson.dumps({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
        assert (await call(app, "POST", "/v1/messages", request, headers=headers)).status == 500, model
    other_key = {**headers, "x-api-key": "sk-solo"}
    assert (await call(app, "POST", "/v1/messages", CLAUDE, headers=other_key)).status == 200


async def test_forced_requests_do_not_shift_the_seeded_failure_pattern() -> None:
    async def pattern(force_every: int) -> list[int]:
        app = make_app(**{"chaos.enabled": True, "chaos.probability": 0.3, "seed": 9})
        statuses = []
        for i in range(60):
            if force_every and i % force_every == 0:
                await chat(app, **{"x-simulator-chaos": "error=server_error; probability=0.5"})
            statuses.append((await chat(app)).status)
        return statuses

    assert await pattern(0) == await pattern(3)


async def test_a_spent_daily_budget_tells_clients_not_to_retry() -> None:
    app = limited_app(requests_per_day=1)
    assert (await chat(app)).status == 200
    refused = await chat(app)
    assert refused.status == 429 and refused.headers["x-should-retry"] == "false"
    assert refused.headers["retry-after"] == "86400"
    assert "per day (RPD)" in body(refused)["error"]["message"]


async def test_a_rule_naming_an_alias_matches_every_spelling_of_its_model() -> None:
    app = make_app(
        **{"chaos.enabled": True, "chaos.rules": [{"error_type": "server_error", "models": ["claude-sonnet-4-5"]}]}
    )
    headers = {"anthropic-version": "2023-06-01"}
    for model in ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"):
        request = orjson.dumps({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
        assert (await call(app, "POST", "/v1/messages", request, headers=headers)).status == 500, model
    other = orjson.dumps(
        {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    )
    assert (await call(app, "POST", "/v1/messages", other, headers=headers)).status == 200


def test_server_errors_about_deliberate_cuts_are_hidden_and_others_kept() -> None:
    from llm_simulator.server.connection import ConnectionCut, HideDeliberateCuts

    hide = HideDeliberateCuts()

    def record(msg: str, exc: BaseException | None = None) -> logging.LogRecord:
        info = (type(exc), exc, None) if exc is not None else None
        return logging.LogRecord("_granian.utils", logging.ERROR, __file__, 1, msg, None, info)

    assert not hide.filter(record("Exception in ASGI application", ConnectionCut("req_1")))
    cut = ConnectionCut("req_abc")  # granian logs the formatted traceback: the cut's mark is in it
    assert not hide.filter(record(f"Application callable raised an exception\n...\nConnectionCut: {cut}"))
    assert hide.filter(record("Application callable raised an exception\n...\nValueError: boom"))
    # Not by the traceback's wording: text naming a cut this process did not make is kept.
    assert hide.filter(record("Application callable raised an exception\n...\nConnectionCut: req_abc"))
    assert hide.filter(record("Exception in ASGI application", ValueError("boom")))


# -- review fixes -------------------------------------------------------------------------------


async def test_a_deliberately_cut_stream_counts_as_a_breaker_failure() -> None:
    app = make_app(**BREAKER)
    for _ in range(2):
        with pytest.raises(Exception, match="req_"):
            await call(app, "POST", "/v1/chat/completions", STREAM, headers={"x-simulator-chaos": "fault=disconnect"})
    assert (await chat(app)).status == 503


async def test_clients_abandoning_streams_do_not_open_the_breaker() -> None:
    config = {**BREAKER, "latency.enabled": True, "latency.multiplier": 0.05}
    app = make_app(**config)
    for _ in range(3):
        gone = asyncio.Event()
        task = asyncio.ensure_future(call(app, "POST", "/v1/chat/completions", STREAM, disconnect=gone))
        await asyncio.sleep(0.02)
        gone.set()
        await asyncio.wait_for(task, 5)
    assert [r["status"] for r in app.stats.snapshot()["requests"]] == [499]
    assert (await chat(app)).status == 200


async def test_embeddings_meet_faults_too() -> None:
    app = make_app()
    request = orjson.dumps({"model": "text-embedding-3-small", "input": "hello"})
    with pytest.raises(Exception, match="req_"):
        await call(app, "POST", "/v1/embeddings", request, headers={"x-simulator-chaos": "fault=disconnect"})
    failed = await call(app, "POST", "/v1/embeddings", request, headers={"x-simulator-chaos": "fault=error_event"})
    assert failed.status == 503


@pytest.mark.parametrize(
    "value", ["error=rate_limit; retry_after=inf", "delay_ms=nan", "latency=1e300", "fault=stall; duration_ms=inf"]
)
async def test_infinite_or_huge_effects_are_refused(value: str) -> None:
    app = make_app()
    got = await chat(app, **{"x-simulator-chaos": value})
    assert got.status == 400 and body(got)["error"]["param"] == "x-simulator-chaos"
    admin = await call(app, "PUT", "/admin/chaos", b'{"rules": [{"error_type": "rate_limit", "retry_after_s": 1e308}]}')
    assert admin.status == 400


def test_retry_hints_are_clamped_to_a_day() -> None:
    from llm_simulator.providers.retry_hints import retry_after_headers

    assert dict(retry_after_headers(1e12)) == {b"retry-after": b"86400", b"retry-after-ms": b"86400000"}
    assert dict(retry_after_headers(0.0123)) == {b"retry-after": b"0.013", b"retry-after-ms": b"13"}


def test_the_breaker_board_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_simulator.config.chaos import CircuitBreakerConfig
    from llm_simulator.engine.chaos import breaker as module

    monkeypatch.setattr(module, "MAX_BREAKERS", 3)
    board = module.BreakerBoard(CircuitBreakerConfig(enabled=True, failure_threshold=5), FakeClock())
    board.admit("sick")
    board.record("sick", module.Outcome.FAILURE)
    for i in range(10):
        board.admit(f"m{i}")
        board.record(f"m{i}", module.Outcome.SUCCESS)
    snapshot = board.snapshot()
    assert len(snapshot) == 3 and "sick" in snapshot  # idle breakers go first


# -- the media endpoints go through the same admission ------------------------------------------

MODERATION = orjson.dumps({"model": "omni-moderation-latest", "input": "hello"})
IMAGE = orjson.dumps({"model": "dall-e-2", "prompt": "a red square", "size": "256x256", "response_format": "b64_json"})
SPEECH = orjson.dumps({"model": "tts-1", "voice": "alloy", "input": "Hello there.", "response_format": "wav"})


@pytest.mark.parametrize(
    ("path", "payload", "endpoint"),
    [
        ("/v1/moderations", MODERATION, "moderation"),
        ("/v1/images/generations", IMAGE, "image"),
        ("/v1/audio/speech", SPEECH, "speech"),
    ],
)
async def test_chaos_rules_reach_the_media_endpoints_by_name(path: str, payload: bytes, endpoint: str) -> None:
    rule = {"error_type": "overloaded", "endpoints": [endpoint]}
    app = make_app(**{"chaos.enabled": True, "chaos.rules": [rule]})
    refused = await call(app, "POST", path, payload)
    assert refused.status == 503 and body(refused)["error"]["type"] == "server_error"
    assert (await chat(app)).status == 200  # the rule names only this endpoint


@pytest.mark.parametrize(
    ("path", "payload"),
    [("/v1/moderations", MODERATION), ("/v1/images/generations", IMAGE), ("/v1/audio/speech", SPEECH)],
)
async def test_rate_limits_count_media_requests(path: str, payload: bytes) -> None:
    app = limited_app(requests_per_minute=1)
    key = {"authorization": "Bearer sk-media"}
    ok = await call(app, "POST", path, payload, headers=key)
    assert ok.status == 200 and ok.headers["x-ratelimit-remaining-requests"] == "0"
    refused = await call(app, "POST", path, payload, headers=key)
    assert refused.status == 429 and body(refused)["error"]["code"] == "rate_limit_exceeded"
