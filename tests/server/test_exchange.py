"""The server's exchange, in process: a frozen request, admission's reports on the exchange,
the pre-checks' order, one wire arm per fault action, and bookkeeping after every ending."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.core.faults import FAULT_ACTIONS, FaultAction, FaultKind
from llm_simulator.core.http import Exchange, HttpRequest
from llm_simulator.core.record import RequestRecord
from llm_simulator.providers.openai.common import MALFORMED_CHUNK
from llm_simulator.server.app import SimulatorApp
from tests.server.asgi_driver import Captured, call
from tests.server.test_chaos_app import BREAKER

CHAT = orjson.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20})
STREAM = orjson.dumps(
    {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20, "stream": True}
)
KEY = "sk-exchange-123456"


def make_app(**flags: Any) -> SimulatorApp:
    return SimulatorApp(load_config(flags={"latency.enabled": False, **flags}))


def error_code(captured: Captured) -> str:
    code: str = orjson.loads(captured.body)["error"]["code"]
    return code


def test_the_request_is_frozen_and_a_detached_copy_reports_to_a_fresh_exchange() -> None:
    exchange = Exchange(
        record=RequestRecord("req_1", "POST", "/v1/chat/completions", 0.0, 0.0),
        extra_headers=[(b"x-ratelimit-limit-requests", b"2")],
        on_done=lambda status, broken: None,
    )
    request = HttpRequest("POST", "/v1/chat/completions", {}, {}, b"{}", "req_1", endpoint="chat", exchange=exchange)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.endpoint = "embedding"  # type: ignore[misc]
    detached = request.detached()
    assert (detached.method, detached.path, detached.body, detached.endpoint) == (
        "POST",
        "/v1/chat/completions",
        b"{}",
        "chat",
    )
    assert detached.exchange is not exchange
    assert (detached.exchange.record, detached.exchange.extra_headers, detached.exchange.on_done) == (None, None, None)
    assert request.exchange is exchange and exchange.record is not None  # the original keeps its own


async def test_a_timeout_after_admission_still_settles_and_feeds_the_breaker() -> None:
    # Admission reports its rate-limit headers and its end callback to the exchange before
    # the handler is cancelled by the request timeout: the 504 must still carry the headers,
    # the token estimate must come back, and the breaker must count the failure.
    flags = {
        **BREAKER,
        "latency.enabled": True,
        "latency.multiplier": 50.0,
        "security.request_timeout_s": 0.1,
        "rate_limits.enabled": True,
        "rate_limits.tiers": [{"tokens_per_minute": 1000}],
    }
    app = make_app(**flags)
    slow = orjson.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 600})
    for _ in range(2):  # 2 × 600 estimated tokens: the second fits only if the first came back
        timed_out = await call(app, "POST", "/v1/chat/completions", slow)
        assert timed_out.status == 504 and error_code(timed_out) == "request_timeout"
        assert int(timed_out.headers["x-ratelimit-remaining-tokens"]) < 1000 - 600
        await asyncio.sleep(0)  # the refund lands
    refused = await call(app, "POST", "/v1/chat/completions", slow)
    assert refused.status == 503 and error_code(refused) == "circuit_open"
    assert app.in_flight == 0


async def test_the_prechecks_run_in_their_order() -> None:
    app = make_app(
        **{
            "auth.require_auth": True,
            "auth.keys": [{"name": "k", "key": KEY}],
            "security.max_url_bytes": 256,
            "security.max_concurrent_requests": 1,
        }
    )
    long_query = "x=" + "a" * 300
    # Routing first: an unknown path is a 404 however long its URL.
    assert (await call(app, "GET", "/v1/nope", query=long_query)).status == 404
    # Sizes before the gate: a long URL without a key is a 414, not a 401.
    assert (await call(app, "POST", "/v1/chat/completions", CHAT, query=long_query)).status == 414
    assert (await call(app, "POST", "/v1/chat/completions", CHAT)).status == 401
    # Capacity before the gate: with the one slot taken, a request without a key is a 503.
    gone = asyncio.Event()
    headers = {"authorization": f"Bearer {KEY}", "x-simulator-chaos": "error=hang"}
    hung = asyncio.ensure_future(call(app, "POST", "/v1/chat/completions", CHAT, headers=headers, disconnect=gone))
    await asyncio.sleep(0.05)
    busy = await call(app, "POST", "/v1/chat/completions", CHAT)
    assert busy.status == 503 and error_code(busy) == "server_busy"
    gone.set()
    await asyncio.wait_for(hung, 5)
    assert app.in_flight == 0


WIRE_FAULTS = [
    kind
    for kind, action in FAULT_ACTIONS.items()
    if action in (FaultAction.CUT_CONNECTION, FaultAction.MALFORMED_FRAME, FaultAction.END_UNTERMINATED)
]


@pytest.mark.parametrize("kind", WIRE_FAULTS)
async def test_each_wire_action_has_its_own_arm(kind: FaultKind, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app()
    headers = {"x-simulator-chaos": f"fault={kind}; after=3"}
    with caplog.at_level(logging.INFO, logger="llm_simulator.server"):
        if FAULT_ACTIONS[kind] is FaultAction.CUT_CONNECTION:
            with pytest.raises(Exception, match="req_"):
                await call(app, "POST", "/v1/chat/completions", STREAM, headers=headers)
        else:
            got = await call(app, "POST", "/v1/chat/completions", STREAM, headers=headers)
            assert got.status == 200 and got.complete and b"[DONE]" not in got.body
            malformed = got.body.endswith(MALFORMED_CHUNK)
            assert malformed is (FAULT_ACTIONS[kind] is FaultAction.MALFORMED_FRAME)
    assert not any("no wire action" in r.getMessage() for r in caplog.records)
    assert any(f"chaos: {kind} fault in stream" in r.getMessage() for r in caplog.records)
    assert (app.in_flight, app.stats.active_requests, app.stats.active_streams) == (0, 0, 0)


async def test_every_ending_leaves_nothing_in_flight() -> None:
    app = make_app()

    async def client_gone() -> None:
        # A body that never completes: the client disconnects while sending it.
        partial: list[dict[str, Any]] = [
            {"type": "http.request", "body": b'{"mo', "more_body": True},
            {"type": "http.disconnect"},
        ]
        messages = iter(partial)

        async def receive() -> dict[str, Any]:
            return next(messages)

        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": [], "query_string": b""}
        await app(scope, receive, send)  # type: ignore[arg-type]
        assert sent[0]["status"] == 400 and b"incomplete_body" in sent[1]["body"]

    gone = asyncio.Event()
    hang = asyncio.ensure_future(
        call(app, "POST", "/v1/chat/completions", CHAT, headers={"x-simulator-chaos": "error=hang"}, disconnect=gone)
    )
    await asyncio.sleep(0.02)
    gone.set()
    await asyncio.wait_for(hang, 5)
    with pytest.raises(Exception, match="req_"):
        await call(app, "POST", "/v1/chat/completions", CHAT, headers={"x-simulator-chaos": "fault=disconnect"})
    await client_gone()
    assert (await call(app, "GET", "/v1/nope")).status == 404
    assert (await call(app, "POST", "/v1/chat/completions", b"{")).status == 400
    assert (await call(app, "POST", "/v1/chat/completions", STREAM)).complete
    statuses = sorted(r["status"] for r in app.stats.snapshot()["requests"])
    assert statuses == [200, 400, 404, 499]
    assert (app.in_flight, app.stats.active_requests, app.stats.active_streams) == (0, 0, 0)
