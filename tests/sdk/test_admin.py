"""The admin namespace sends the right method, path, query and body, and reads the answer."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from llm_simulator.sdk import NOT_GIVEN, AsyncClient, Client, NotFoundError
from tests.sdk.fakes import Script, Sleeps, json_reply

BASE = "http://sim.test"


def echo(request: httpx.Request) -> httpx.Response:
    """Answer with what was asked, so a test can check the request through the result."""
    body: Any = orjson.loads(request.content) if request.content and b"{" in request.content[:1] else None
    return httpx.Response(
        200,
        content=orjson.dumps(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.url.params),
                "body": body,
                "requests": [{"seq": 1}],
                "sessions": [{"id": "s"}],
                "ready": True,
            }
        ),
    )


@pytest.fixture
def client() -> Client:
    return Client(BASE, transport=Script(echo).transport, admin_key="adm", api_key="user", sleep=Sleeps())


def route(result: dict[str, Any]) -> tuple[str, str]:
    return result["method"], result["path"]


def test_every_call_hits_its_route(client: Client) -> None:
    admin = client.admin
    assert route(admin.health()) == ("GET", "/health")
    assert route(admin.version()) == ("GET", "/version")
    assert route(admin.config()) == ("GET", "/admin/config")
    assert route(admin.auth_status()) == ("GET", "/admin/auth")
    assert route(admin.drain()) == ("POST", "/admin/drain")
    assert route(admin.stats()) == ("GET", "/admin/stats")
    assert route(admin.reset_stats()) == ("POST", "/admin/stats/reset")
    assert route(admin.engine()) == ("GET", "/admin/engine")
    assert route(admin.clear_requests()) == ("DELETE", "/admin/requests")
    assert route(admin.chaos()) == ("GET", "/admin/chaos")
    assert route(admin.enable_chaos()) == ("POST", "/admin/chaos/enable")
    assert route(admin.disable_chaos()) == ("POST", "/admin/chaos/disable")
    assert route(admin.clear_chaos_rules()) == ("DELETE", "/admin/chaos/rules")
    assert route(admin.restart_chaos_scenarios()) == ("POST", "/admin/chaos/scenarios/restart")
    assert route(admin.circuit_breakers()) == ("GET", "/admin/circuit-breakers")
    assert route(admin.rate_limits()) == ("GET", "/admin/rate-limits")
    assert route(admin.reset_rate_limits()) == ("POST", "/admin/rate-limits/reset")
    assert route(admin.fixtures()) == ("GET", "/admin/fixtures")
    assert route(admin.clear_fixtures()) == ("DELETE", "/admin/fixtures")
    assert route(admin.clear_sessions()) == ("DELETE", "/admin/sessions")
    assert route(admin.session("a/b")) == ("GET", "/admin/sessions/a/b")  # decoded path; sent as a%2Fb
    assert route(admin.drop_session("s1")) == ("DELETE", "/admin/sessions/s1")
    assert admin.sessions() == [{"id": "s"}]
    assert admin.ready() is True
    reset = admin.reset_circuit_breakers("gpt-4o")
    assert (route(reset), reset["query"]) == (("POST", "/admin/circuit-breakers/reset"), {"model": "gpt-4o"})


def test_admin_calls_send_the_admin_key() -> None:
    script = Script(echo)
    with Client(BASE, transport=script.transport, api_key="user", admin_key="adm") as client:
        client.admin.health()
        client.chat("hi")
    assert script.requests[0].headers["authorization"] == "Bearer adm"
    assert script.requests[1].headers["authorization"] == "Bearer user"
    script = Script(echo)
    with Client(BASE, transport=script.transport, api_key="user") as client:
        client.admin.stats()
    assert script.requests[0].headers["authorization"] == "Bearer user"


def test_requests_and_the_request_log(client: Client) -> None:
    assert client.admin.requests() == [{"seq": 1}]
    log = client.admin.request_log(since=4, path="/v1/messages", model="m", limit=2)
    assert route(log) == ("GET", "/admin/requests")
    assert log["query"] == {"since": "4", "path": "/v1/messages", "model": "m", "limit": "2"}


def test_set_chaos_sends_only_what_is_given(client: Client) -> None:
    sent = client.admin.set_chaos(enabled=True, rules=[{"error_type": "rate_limit"}], preset=None)
    assert route(sent) == ("PUT", "/admin/chaos")
    assert sent["body"] == {"enabled": True, "rules": [{"error_type": "rate_limit"}], "preset": None}
    assert client.admin.set_chaos(probability=0.5)["body"] == {"probability": 0.5}
    assert not NOT_GIVEN and repr(NOT_GIVEN) == "NOT_GIVEN"


def test_load_fixtures_yaml_or_mapping() -> None:
    script = Script(json_reply(200, {"loaded": {"rules": 1}}))
    with Client(BASE, transport=script.transport) as client:
        client.admin.load_fixtures("rules: []\n")
        client.admin.load_fixtures({"rules": []}, replace=True)
    yaml_request, json_request = script.requests
    assert yaml_request.url.params["mode"] == "append"
    assert yaml_request.headers["content-type"] == "application/yaml"
    assert yaml_request.content == b"rules: []\n"
    assert json_request.url.params["mode"] == "replace"
    assert orjson.loads(json_request.content) == {"rules": []}


def test_export_stats_json_or_csv() -> None:
    script = Script(
        json_reply(200, {"models": []}),
        httpx.Response(200, text="provider,model\r\n", headers={"content-type": "text/csv"}),
    )
    with Client(BASE, transport=script.transport) as client:
        assert client.admin.export_stats() == {"models": []}
        assert client.admin.export_stats("csv", by="key") == "provider,model\r\n"
        with pytest.raises(ValueError, match="format"):
            client.admin.export_stats("xml")  # type: ignore[call-overload]
    assert dict(script.requests[1].url.params) == {"format": "csv", "by": "key"}


def test_ready_is_false_while_draining_and_errors_are_typed() -> None:
    script = Script(
        json_reply(503, {"ready": False, "reason": "draining"}),
        json_reply(404, {"error": {"message": "No session 'x'.", "type": "invalid_request_error"}}),
    )
    with Client(BASE, transport=script.transport) as client:
        assert client.admin.ready() is False
        with pytest.raises(NotFoundError, match="No session"):
            client.admin.session("x")
    assert len(script.requests) == 2  # neither is retried


async def test_the_async_admin_mirrors_the_sync_one() -> None:
    script = Script(echo)
    sleeps = Sleeps()
    async with AsyncClient(BASE, transport=script.transport, admin_key="adm", sleep=sleeps.asleep) as client:
        admin = client.admin
        assert route(await admin.health()) == ("GET", "/health")
        assert await admin.ready() is True
        assert route(await admin.version()) == ("GET", "/version")
        assert route(await admin.config()) == ("GET", "/admin/config")
        assert route(await admin.auth_status()) == ("GET", "/admin/auth")
        assert route(await admin.drain()) == ("POST", "/admin/drain")
        assert route(await admin.stats()) == ("GET", "/admin/stats")
        assert route(await admin.reset_stats()) == ("POST", "/admin/stats/reset")
        assert route(await admin.engine()) == ("GET", "/admin/engine")
        assert (await admin.export_stats())["query"] == {"format": "json", "by": "model"}
        assert await admin.requests(since=1) == [{"seq": 1}]
        assert (await admin.request_log(limit=3))["query"] == {"since": "0", "limit": "3"}
        assert route(await admin.clear_requests()) == ("DELETE", "/admin/requests")
        assert route(await admin.chaos()) == ("GET", "/admin/chaos")
        assert (await admin.set_chaos(enabled=False))["body"] == {"enabled": False}
        assert route(await admin.enable_chaos()) == ("POST", "/admin/chaos/enable")
        assert route(await admin.disable_chaos()) == ("POST", "/admin/chaos/disable")
        assert route(await admin.clear_chaos_rules()) == ("DELETE", "/admin/chaos/rules")
        assert route(await admin.restart_chaos_scenarios()) == ("POST", "/admin/chaos/scenarios/restart")
        assert route(await admin.circuit_breakers()) == ("GET", "/admin/circuit-breakers")
        assert route(await admin.reset_circuit_breakers()) == ("POST", "/admin/circuit-breakers/reset")
        assert route(await admin.rate_limits()) == ("GET", "/admin/rate-limits")
        assert route(await admin.reset_rate_limits()) == ("POST", "/admin/rate-limits/reset")
        assert route(await admin.fixtures()) == ("GET", "/admin/fixtures")
        assert (await admin.load_fixtures({"rules": []}))["query"] == {"mode": "append"}
        assert route(await admin.clear_fixtures()) == ("DELETE", "/admin/fixtures")
        assert await admin.sessions() == [{"id": "s"}]
        assert route(await admin.session("s")) == ("GET", "/admin/sessions/s")
        assert route(await admin.clear_sessions()) == ("DELETE", "/admin/sessions")
        assert route(await admin.drop_session("s")) == ("DELETE", "/admin/sessions/s")
    assert {r.headers["authorization"] for r in script.requests} == {"Bearer adm"}
