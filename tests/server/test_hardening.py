"""HTTP hardening through the app: security headers, CORS, URL/header limits, the concurrency cap."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from llm_simulator.config import ConfigError, load_config
from llm_simulator.server.app import SimulatorApp
from tests.server.asgi_driver import Captured, call

CHAT = orjson.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
STREAM = orjson.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "stream": True})
CLAUDE = orjson.dumps({"model": "claude-sonnet-4-5", "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]})
ANTHROPIC = {"anthropic-version": "2023-06-01"}
SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "permissions-policy": "geolocation=(), microphone=(), camera=()",
}


def make_app(**flags: Any) -> SimulatorApp:
    return SimulatorApp(load_config(flags={"latency.enabled": False, **flags}))


def body(captured: Captured) -> Any:
    return orjson.loads(captured.body)


async def test_security_headers_on_json_errors_and_streams() -> None:
    app = make_app()
    for got in (
        await call(app, "POST", "/v1/chat/completions", CHAT),
        await call(app, "POST", "/v1/chat/completions", b"{"),
        await call(app, "GET", "/nowhere"),
    ):
        assert {k: got.headers.get(k) for k in SECURITY} == SECURITY
        assert got.headers["cache-control"] == "no-store"
    stream = await call(app, "POST", "/v1/chat/completions", STREAM)
    assert {k: stream.headers.get(k) for k in SECURITY} == SECURITY
    assert stream.headers["cache-control"] == "no-cache"  # the stream's own policy, not a second one
    assert "strict-transport-security" not in stream.headers
    hsts = await call(make_app(**{"security.hsts": True}), "GET", "/health")
    assert hsts.headers["strict-transport-security"].startswith("max-age=")
    bare = await call(make_app(**{"security.headers": False}), "GET", "/health")
    assert "x-frame-options" not in bare.headers


async def test_cors_preflight_and_simple_requests() -> None:
    app = make_app()
    preflight = await call(
        app,
        "OPTIONS",
        "/v1/chat/completions",
        headers={"origin": "https://playground.example", "access-control-request-method": "POST"},
    )
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    assert "POST" in preflight.headers["access-control-allow-methods"]
    simple = await call(app, "POST", "/v1/chat/completions", CHAT, headers={"origin": "https://playground.example"})
    assert simple.headers["access-control-allow-origin"] == "*"
    assert "x-ratelimit-remaining-requests" in simple.headers["access-control-expose-headers"]
    # Without an Origin there is nothing to allow; an OPTIONS that is no preflight is a 405.
    assert "access-control-allow-origin" not in (await call(app, "POST", "/v1/chat/completions", CHAT)).headers
    assert (await call(app, "OPTIONS", "/v1/chat/completions")).status == 405


async def test_cors_with_listed_origins_and_credentials() -> None:
    cors = {"allow_origins": ["https://ok.example"], "allow_credentials": True}
    app = make_app(**{"security.cors": cors})
    ok = await call(app, "GET", "/v1/models", headers={"origin": "https://ok.example"})
    assert ok.headers["access-control-allow-origin"] == "https://ok.example"
    assert ok.headers["access-control-allow-credentials"] == "true" and ok.headers["vary"] == "Origin"
    other = await call(app, "GET", "/v1/models", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    denied = await call(
        app, "OPTIONS", "/v1/models", headers={"origin": "https://evil.example", "access-control-request-method": "GET"}
    )
    assert denied.status == 405


def test_wildcard_origins_with_credentials_are_refused_at_load() -> None:
    with pytest.raises(ConfigError, match="allow_credentials cannot be combined with the wildcard"):
        load_config(flags={"security.cors": {"allow_origins": ["*"], "allow_credentials": True}})


async def test_url_and_header_limits_in_the_providers_shape() -> None:
    app = make_app(**{"security.max_url_bytes": 300, "security.max_header_bytes": 2048})
    long_url = await call(app, "POST", "/v1/chat/completions", CHAT, query="x=" + "a" * 400)
    assert long_url.status == 414 and body(long_url)["error"]["code"] == "uri_too_long"
    huge = {"x-padding": "p" * 3000}
    openai = await call(app, "POST", "/v1/chat/completions", CHAT, headers=huge)
    assert openai.status == 431 and body(openai)["error"]["code"] == "headers_too_large"
    claude = await call(app, "POST", "/v1/messages", CLAUDE, headers={**ANTHROPIC, **huge})
    assert claude.status == 431 and body(claude)["type"] == "error"


async def test_the_concurrency_cap_answers_overloaded_in_each_providers_way() -> None:
    app = make_app(**{"security.max_concurrent_requests": 2})
    gone = asyncio.Event()
    hung = [
        asyncio.ensure_future(
            call(
                app, "POST", "/v1/chat/completions", CHAT, headers={"x-simulator-chaos": "error=hang"}, disconnect=gone
            )
        )
        for _ in range(2)
    ]
    await asyncio.sleep(0.05)
    openai = await call(app, "POST", "/v1/chat/completions", CHAT)
    assert openai.status == 503 and body(openai)["error"]["code"] == "server_busy"
    assert openai.headers["retry-after"] == "1"
    claude = await call(app, "POST", "/v1/messages", CLAUDE, headers=ANTHROPIC)
    assert claude.status == 529 and body(claude)["error"]["type"] == "overloaded_error"
    gone.set()
    await asyncio.gather(*hung)
    assert (await call(app, "POST", "/v1/chat/completions", CHAT)).status == 200


async def test_a_body_that_never_finishes_gets_a_408_in_the_providers_shape() -> None:
    app = make_app(**{"security.body_timeout_s": 0.1})
    sent: list[dict[str, Any]] = []
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b'{"model":', "more_body": True}
        await asyncio.sleep(3600)  # a client that stops sending halfway
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/messages", "headers": [], "query_string": b""}
    await asyncio.wait_for(app(scope, receive, send), 5)  # type: ignore[arg-type]
    assert sent[0]["status"] == 408
    error = orjson.loads(sent[1]["body"])
    assert error["type"] == "error" and "did not arrive within 0.1 s" in error["error"]["message"]


async def test_a_request_over_the_request_timeout_gets_the_providers_504() -> None:
    app = make_app(**{"security.request_timeout_s": 0.1})
    slow = {"x-simulator-chaos": "delay_ms=2000"}
    openai = await call(app, "POST", "/v1/chat/completions", CHAT, headers=slow)
    assert openai.status == 504 and body(openai)["error"]["code"] == "request_timeout"
    claude = await call(app, "POST", "/v1/messages", CLAUDE, headers={**ANTHROPIC, **slow})
    assert claude.status == 504 and body(claude)["error"]["type"] == "timeout_error"
    assert (await call(app, "POST", "/v1/chat/completions", CHAT)).status == 200
