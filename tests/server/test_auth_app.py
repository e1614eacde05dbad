"""API-key auth through the app: provider-shaped 401/403, roles, tiers, admin protection, counters."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.engine.simulator import Simulator
from llm_simulator.infra.clock import FakeClock
from llm_simulator.server.app import SimulatorApp
from tests.server.asgi_driver import Captured, call

CHAT = orjson.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
CLAUDE = orjson.dumps({"model": "claude-sonnet-4-5", "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]})
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:generateContent"
GEMINI = orjson.dumps({"contents": [{"parts": [{"text": "hi"}]}]})
KEYS = [
    {"name": "user", "key": "sk-user-123456"},
    {"name": "admin", "key": "sk-admin-123456", "role": "admin", "throttle": "unlimited"},
    {"name": "reader", "key_sha256": hashlib.sha256(b"sk-reader-123456").hexdigest(), "role": "readonly"},
    {"name": "old", "key": "sk-old-123456", "enabled": False},
]
REMOTE = ("203.0.113.9", 40000)


def make_app(clock: FakeClock | None = None, /, **flags: Any) -> SimulatorApp:
    config = load_config(flags={"latency.enabled": False, "auth.require_auth": True, "auth.keys": KEYS, **flags})
    return SimulatorApp(config, Simulator(config, clock=clock) if clock is not None else None)


def body(captured: Captured) -> Any:
    return orjson.loads(captured.body)


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_openai_shapes_for_missing_invalid_and_disabled_keys() -> None:
    app = make_app()
    missing = await call(app, "POST", "/v1/chat/completions", CHAT)
    assert missing.status == 401 and body(missing)["error"]["code"] == "missing_api_key"
    assert body(missing)["error"]["type"] == "invalid_request_error"
    invalid = await call(app, "POST", "/v1/chat/completions", CHAT, headers=bearer("sk-wrong-key-999"))
    error = body(invalid)["error"]
    assert invalid.status == 401 and error["code"] == "invalid_api_key"
    assert "Incorrect API key provided: ***." in error["message"] and "sk-wrong-key-999" not in invalid.body.decode()
    long_key = await call(app, "POST", "/v1/chat/completions", CHAT, headers=bearer("sk-proj-wrong-key-0123456789"))
    assert "sk-***9" in body(long_key)["error"]["message"]
    disabled = await call(app, "POST", "/v1/chat/completions", CHAT, headers=bearer("sk-old-123456"))
    assert disabled.status == 401 and "disabled" in body(disabled)["error"]["message"]
    ok = await call(app, "POST", "/v1/chat/completions", CHAT, headers=bearer("sk-user-123456"))
    assert ok.status == 200


async def test_anthropic_and_gemini_answer_bad_keys_in_their_own_words() -> None:
    app = make_app()
    headers = {"anthropic-version": "2023-06-01"}
    missing = await call(app, "POST", "/v1/messages", CLAUDE, headers=headers)
    assert (missing.status, body(missing)["error"]) == (
        401,
        {"type": "authentication_error", "message": "x-api-key header is required"},
    )
    invalid = await call(app, "POST", "/v1/messages", CLAUDE, headers={**headers, "x-api-key": "nope-nope-nope"})
    assert body(invalid)["error"]["message"] == "invalid x-api-key"
    assert (
        await call(app, "POST", "/v1/messages", CLAUDE, headers={**headers, "x-api-key": "sk-user-123456"})
    ).status == 200
    bad = await call(app, "POST", GEMINI_PATH, GEMINI, query="key=nope-nope-nope")
    error = body(bad)["error"]
    assert (bad.status, error["status"], error["message"]) == (
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
    )
    assert error["details"][0]["reason"] == "API_KEY_INVALID"
    none = await call(app, "POST", GEMINI_PATH, GEMINI)
    assert (none.status, body(none)["error"]["status"]) == (403, "PERMISSION_DENIED")
    good = await call(app, "POST", GEMINI_PATH, GEMINI, headers={"x-goog-api-key": "sk-user-123456"})
    assert good.status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer sk-user-123456"},
        {"x-api-key": "sk-user-123456"},
        {"api-key": "sk-user-123456"},
        {"x-goog-api-key": "sk-user-123456"},
    ],
)
async def test_every_way_of_sending_a_key(headers: dict[str, str]) -> None:
    assert (await call(make_app(), "POST", "/v1/chat/completions", CHAT, headers=headers)).status == 200


async def test_roles_readonly_and_admin() -> None:
    app = make_app()
    reader = bearer("sk-reader-123456")
    assert (await call(app, "GET", "/v1/models", headers=reader)).status == 200
    refused = await call(app, "POST", "/v1/chat/completions", CHAT, headers=reader)
    assert refused.status == 403 and body(refused)["error"]["code"] == "read_only_key"
    for key in ("sk-user-123456", "sk-reader-123456"):
        denied = await call(app, "GET", "/admin/stats", headers=bearer(key))
        assert denied.status == 403 and body(denied)["error"]["code"] == "admin_forbidden"
    assert (await call(app, "GET", "/admin/stats", headers=bearer("sk-admin-123456"))).status == 200
    assert (await call(app, "GET", "/admin/chaos")).status == 401


async def test_health_and_readiness_stay_anonymous_unless_configured() -> None:
    app = make_app()
    for path in ("/health", "/ready", "/version"):
        assert (await call(app, "GET", path)).status == 200
    strict = make_app(**{"auth.anonymous_paths": []})
    assert (await call(strict, "GET", "/health")).status == 401


async def test_per_key_tiers_refill_on_the_clock() -> None:
    clock = FakeClock()
    app = make_app(clock, **{"auth.throttles": {"standard": {"requests_per_minute": 6, "burst": 2}}})
    statuses = [
        (await call(app, "POST", "/v1/chat/completions", CHAT, headers=bearer("sk-user-123456"))).status
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    limited = await call(app, "POST", "/v1/chat/completions", CHAT, headers=bearer("sk-user-123456"))
    assert limited.headers["retry-after-ms"] == "10000"  # one request refills in 60 s / 6
    admin = [
        (await call(app, "POST", "/v1/chat/completions", CHAT, headers=bearer("sk-admin-123456"))).status
        for _ in range(5)
    ]
    assert admin == [200] * 5  # unlimited tier
    clock.advance_to(clock.now() + 10.0)
    assert (await call(app, "POST", "/v1/chat/completions", CHAT, headers=bearer("sk-user-123456"))).status == 200


async def test_failures_are_counted_and_the_admin_view_has_no_secrets() -> None:
    app = make_app()
    await call(app, "POST", "/v1/chat/completions", CHAT)
    await call(app, "POST", "/v1/chat/completions", CHAT, headers=bearer("sk-wrong-key-999"))
    await call(app, "POST", "/v1/chat/completions", CHAT, headers=bearer("sk-reader-123456"))
    view = await call(app, "GET", "/admin/auth", headers=bearer("sk-admin-123456"))
    status = body(view)
    assert status["failures"] == {"invalid_key": 1, "missing_key": 1, "read_only": 1}
    text = view.body.decode()
    for key in ("sk-user-123456", "sk-admin-123456", "sk-reader-123456", "sk-old-123456"):
        assert key not in text
    assert hashlib.sha256(b"sk-reader-123456").hexdigest() not in text
    shown = await call(app, "GET", "/admin/stats", headers=bearer("sk-admin-123456"))
    assert "sk-" not in shown.body.decode()


async def test_without_auth_the_admin_api_answers_only_loopback_clients() -> None:
    open_app = SimulatorApp(load_config(flags={"latency.enabled": False}))
    assert (await call(open_app, "GET", "/admin/stats", client=("127.0.0.1", 5000))).status == 200
    remote = await call(open_app, "GET", "/admin/stats", client=REMOTE)
    assert remote.status == 403 and body(remote)["error"]["code"] == "admin_forbidden"
    assert (await call(open_app, "POST", "/v1/chat/completions", CHAT, client=REMOTE)).status == 200
    exposed = SimulatorApp(load_config(flags={"latency.enabled": False, "auth.admin_from_remote": True}))
    assert (await call(exposed, "GET", "/admin/stats", client=REMOTE)).status == 200


async def test_authentication_runs_before_rate_limits() -> None:
    app = make_app(**{"rate_limits.enabled": True, "rate_limits.tiers": [{"requests_per_minute": 1}]})
    for _ in range(3):
        assert (await call(app, "POST", "/v1/chat/completions", CHAT)).status == 401  # never charged
    assert (await call(app, "POST", "/v1/chat/completions", CHAT, headers=bearer("sk-user-123456"))).status == 200


async def test_keys_named_in_chaos_rules_and_rate_tiers_are_masked_in_admin_views() -> None:
    app = make_app(
        **{
            "chaos.rules": [{"error_type": "server_error", "api_keys": ["sk-victim-0123456789"]}],
            "rate_limits.enabled": True,
            "rate_limits.tiers": [{"api_keys": ["sk-tenant-abcdefghij"], "requests_per_minute": 5}],
        }
    )
    admin = bearer("sk-admin-123456")
    chaos = await call(app, "GET", "/admin/chaos", headers=admin)
    limits = await call(app, "GET", "/admin/rate-limits", headers=admin)
    assert "sk-victim-0123456789" not in chaos.body.decode() and "sk-***9" in chaos.body.decode()
    assert "sk-tenant-abcdefghij" not in limits.body.decode() and "sk-***j" in limits.body.decode()


# -- review fixes ------------------------------------------------------------------------------


async def test_without_auth_browsers_and_rebound_hosts_cannot_reach_the_admin_api() -> None:
    app = SimulatorApp(load_config(flags={"latency.enabled": False}))
    local = ("127.0.0.1", 5000)
    page = await call(app, "GET", "/admin/sessions", client=local, headers={"origin": "https://evil.example"})
    assert page.status == 403 and "access-control-allow-origin" not in page.headers
    fetch = await call(app, "POST", "/admin/drain", client=local, headers={"sec-fetch-site": "cross-site"})
    assert fetch.status == 403 and app.draining is False
    rebound = await call(app, "GET", "/admin/stats", client=local, headers={"host": "evil.example:8080"})
    assert rebound.status == 403
    preflight = await call(
        app,
        "OPTIONS",
        "/admin/chaos",
        client=local,
        headers={"origin": "https://evil.example", "access-control-request-method": "PUT"},
    )
    assert preflight.status != 204 and "access-control-allow-origin" not in preflight.headers
    for host in ("127.0.0.1:8080", "localhost", "[::1]:8080"):
        assert (await call(app, "GET", "/admin/stats", client=local, headers={"host": host})).status == 200
    assert (await call(app, "GET", "/admin/stats", client=("::ffff:127.0.0.1", 1))).status == 200
    counted = body(await call(app, "GET", "/admin/auth", client=local))["failures"]
    assert counted == {"admin_from_browser": 2, "admin_host": 1}  # the preflight is a 405 before the gate


async def test_the_concurrency_cap_ignores_stat_resets_and_lets_probes_through() -> None:
    import asyncio

    app = make_app(**{"security.max_concurrent_requests": 1})
    admin = bearer("sk-admin-123456")
    gone = asyncio.Event()
    hold = {**bearer("sk-user-123456"), "x-simulator-chaos": "error=hang"}
    held = asyncio.ensure_future(call(app, "POST", "/v1/chat/completions", CHAT, headers=hold, disconnect=gone))
    await asyncio.sleep(0.05)
    assert (await call(app, "POST", "/admin/stats/reset", headers=admin)).status == 200
    busy = await call(app, "POST", "/v1/chat/completions", CHAT, headers=bearer("sk-user-123456"))
    assert busy.status == 503  # the reset did not free a slot
    assert (await call(app, "GET", "/health")).status == 200
    assert (await call(app, "GET", "/admin/stats", headers=admin)).status == 200
    gone.set()
    await held
    assert app.in_flight == 0


async def test_unsafe_request_ids_are_replaced() -> None:
    app = SimulatorApp(load_config(flags={"latency.enabled": False}))
    kept = await call(app, "GET", "/v1/models", headers={"x-request-id": "trace-42.a:b_c"})
    assert kept.headers["x-request-id"] == "trace-42.a:b_c"
    for bad in ("has space", "x" * 200, "line\u00e9"):
        replaced = await call(app, "GET", "/v1/models", headers={"x-request-id": bad})
        assert replaced.headers["x-request-id"].startswith("req_"), bad


async def test_a_stats_reset_keeps_the_in_flight_gauges() -> None:
    import asyncio

    app = SimulatorApp(load_config(flags={"latency.enabled": False}))
    gone = asyncio.Event()
    held = asyncio.ensure_future(
        call(app, "POST", "/v1/chat/completions", CHAT, headers={"x-simulator-chaos": "error=hang"}, disconnect=gone)
    )
    await asyncio.sleep(0.05)
    await call(app, "POST", "/admin/stats/reset")
    assert app.stats.active_requests == 1
    gone.set()
    await held
    assert app.stats.active_requests == 0 and app.stats.active_streams == 0
