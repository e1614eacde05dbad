"""``/admin/requests``: the request log tests use to see what their code sent."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.server.app import SimulatorApp
from tests.server.asgi_driver import call

JSON = {"content-type": "application/json"}


def _app(**log: Any) -> SimulatorApp:
    config = {"latency": {"enabled": False}, "telemetry": {"request_log": {"enabled": True, **log}}}
    return SimulatorApp(SimulatorConfig.model_validate(config))


def _chat(content: str = "hi", model: str = "gpt-4o") -> bytes:
    return orjson.dumps({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": content}]})


async def _entries(app: SimulatorApp, query: str = "") -> dict[str, Any]:
    got = await call(app, "GET", "/admin/requests", query=query)
    assert got.status == 200
    result: dict[str, Any] = orjson.loads(got.body)
    return result


async def test_requests_are_logged_with_body_outcome_and_masked_credentials() -> None:
    app = _app()
    headers = {**JSON, "authorization": "Bearer sk-request-log-secret-0001", "x-custom": "yes"}
    await call(app, "POST", "/v1/chat/completions", _chat("first question"), headers=headers)
    await call(app, "POST", "/v1/chat/completions", b"{broken", headers=JSON)
    log = await _entries(app)
    first, second = log["requests"]
    assert first["body"]["messages"][0]["content"] == "first question"
    assert (first["status"], first["provider"], first["endpoint"], first["model"]) == (200, "openai", "chat", "gpt-4o")
    assert first["headers"]["x-custom"] == "yes"
    assert "sk-request-log-secret-0001" not in orjson.dumps(log).decode()
    assert (second["status"], second["error_type"], second["body"]) == (400, "invalid_request", "{broken")
    assert log["last_seq"] == second["seq"] == first["seq"] + 1


async def test_the_simulators_own_endpoints_are_not_logged() -> None:
    app = _app()
    await call(app, "GET", "/health")
    await call(app, "GET", "/metrics")
    assert (await _entries(app))["requests"] == []


async def test_filters_since_path_model_and_limit() -> None:
    app = _app()
    await call(app, "POST", "/v1/chat/completions", _chat(model="gpt-4o"), headers=JSON)
    await call(app, "POST", "/v1/chat/completions", _chat(model="gpt-4o-mini"), headers=JSON)
    await call(app, "GET", "/v1/models")
    everything = (await _entries(app))["requests"]
    assert len(everything) == 3
    assert [e["model"] for e in (await _entries(app, "model=gpt-4o-mini"))["requests"]] == ["gpt-4o-mini"]
    assert [e["path"] for e in (await _entries(app, "path=/v1/models"))["requests"]] == ["/v1/models"]
    assert (await _entries(app, f"since={everything[0]['seq']}"))["requests"] == everything[1:]
    assert (await _entries(app, "limit=1"))["requests"] == everything[-1:]


async def test_the_log_is_bounded_and_bodies_truncated() -> None:
    app = _app(max_entries=2, max_body_bytes=10)
    for n in range(3):
        await call(app, "POST", "/v1/chat/completions", _chat(f"question {n}"), headers=JSON)
    log = await _entries(app)
    assert [e["seq"] for e in log["requests"]] == [2, 3]
    assert log["requests"][0]["body"]["truncated"] is True
    assert len(log["requests"][0]["body"]["text"]) == 10


async def test_clearing_the_log() -> None:
    app = _app()
    await call(app, "POST", "/v1/chat/completions", _chat(), headers=JSON)
    got = await call(app, "DELETE", "/admin/requests")
    assert orjson.loads(got.body) == {"cleared": 1}
    assert (await _entries(app))["requests"] == []


async def test_off_by_default() -> None:
    app = SimulatorApp(SimulatorConfig.model_validate({"latency": {"enabled": False}}))
    await call(app, "POST", "/v1/chat/completions", _chat(), headers=JSON)
    log = await _entries(app)
    assert log == {"enabled": False, "scoped": True, "last_seq": 0, "requests": []}


@pytest.mark.parametrize("query", ["since=-1", "limit=ten"])
async def test_bad_parameters_are_400s_naming_them(query: str) -> None:
    got = await call(_app(), "GET", "/admin/requests", query=query)
    assert got.status == 400
    assert query.split("=", maxsplit=1)[0] in orjson.loads(got.body)["error"]["message"]


async def test_admin_config_shows_the_effective_config_with_secrets_redacted() -> None:
    config = {"auth": {"require_auth": True, "admin_keys": ["sk-admin-secret-key-000001"]}, "seed": 7}
    app = SimulatorApp(SimulatorConfig.model_validate(config))
    got = await call(app, "GET", "/admin/config", headers={"authorization": "Bearer sk-admin-secret-key-000001"})
    assert got.status == 200
    data = orjson.loads(got.body)
    assert data["seed"] == 7
    assert "sk-admin-secret-key-000001" not in got.body.decode()
