"""``GET /admin/engine`` and the ``engines`` rows of ``/dashboard/data``, in process; the SDK's ``engine()``."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from llm_simulator.config import load_config
from llm_simulator.engine.load.presets import preset_names
from llm_simulator.sdk import AsyncClient, PermissionDeniedError
from llm_simulator.server.app import SimulatorApp
from tests.server.asgi_driver import call

LOCAL = ("127.0.0.1", 5000)
REMOTE = ("203.0.113.9", 1)
# Short, noiseless steps: a request of a few tokens takes a few ms on a loaded machine too.
STEP = {
    "step_ms": 1.0,
    "weights_ms": 0.0,
    "prefill_ms_per_token": 0.001,
    "kv_ms_per_token": 0.0,
    "overlap": 0.0,
    "jitter_sigma": 0.0,
    "stall_probability": 0.0,
    "front_ms": 0.0,
}
POOL = {"kv_blocks": 1000, "replicas": 2, "router": "round_robin", "models": ["gpt-4o-mini"], "step": STEP}
KEYS = [
    {"name": "user", "key": "sk-user-123456"},
    {"name": "admin", "key": "sk-admin-123456", "role": "admin"},
]
ROW_FIELDS = {
    "deployment",
    "replica",
    "running",
    "waiting",
    "kv_usage",
    "kv_blocks",
    "prefix_cache_hit_rate",
    "preemptions",
    "rejected",
    "timed_out",
    "steps",
    "mean_step_ms",
    "mean_batch_size",
    "generated_tokens",
}


def engine_app(**flags: Any) -> SimulatorApp:
    """An app whose gpt-4o-mini is served by a two-replica deployment named ``pool``."""
    return SimulatorApp(load_config(flags={"seed": 3, "engine.deployments": {"pool": POOL}, **flags}))


def chat(tokens: int) -> bytes:
    return orjson.dumps(
        {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": tokens,
            "ignore_eos": True,
        }
    )


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def get_json(app: SimulatorApp, path: str) -> Any:
    got = await call(app, "GET", path, client=LOCAL)
    assert got.status == 200, got.body
    assert got.headers["cache-control"] == "no-store"
    return orjson.loads(got.body)


async def test_no_engine_no_rows_but_the_presets() -> None:
    app = SimulatorApp(load_config(flags={"latency.enabled": False}))
    assert await get_json(app, "/admin/engine") == {"deployments": [], "presets": preset_names()}
    assert "vllm-h100-7b-tp1" in preset_names()
    assert (await get_json(app, "/dashboard/data"))["engines"] == []


async def test_an_engine_shows_one_row_per_replica_after_its_first_request() -> None:
    app = engine_app()
    # Configured but not asked yet: engines are created on first use.
    assert (await get_json(app, "/admin/engine"))["deployments"] == []
    for tokens in (5, 7):  # round robin: one request per replica
        assert (await call(app, "POST", "/v1/chat/completions", chat(tokens))).status == 200
    rows = (await get_json(app, "/admin/engine"))["deployments"]
    assert [(r["deployment"], r["replica"]) for r in rows] == [("pool", 0), ("pool", 1)]
    assert all(set(row) == ROW_FIELDS for row in rows)
    assert sorted(r["generated_tokens"] for r in rows) == [5, 7]
    assert all(r["running"] == 0 and r["waiting"] == 0 and r["kv_usage"] == 0.0 for r in rows)
    assert all(r["steps"] >= 5 and r["mean_step_ms"] > 0 and r["mean_batch_size"] == 1.0 for r in rows)
    # The dashboard's data carries the same rows (nothing ran in between).
    assert (await get_json(app, "/dashboard/data"))["engines"] == rows


async def test_the_route_is_admin_gated_and_documented() -> None:
    app = engine_app()
    remote = await call(app, "GET", "/admin/engine", client=REMOTE)
    assert remote.status == 403 and orjson.loads(remote.body)["error"]["code"] == "admin_forbidden"
    cross = await call(app, "GET", "/admin/engine", client=LOCAL, headers={"sec-fetch-site": "cross-site"})
    assert cross.status == 403
    authed = engine_app(**{"auth.require_auth": True, "auth.keys": KEYS})
    assert (await call(authed, "GET", "/admin/engine", client=LOCAL)).status == 401
    user = await call(authed, "GET", "/admin/engine", client=LOCAL, headers=bearer("sk-user-123456"))
    assert user.status == 403
    admin = await call(authed, "GET", "/admin/engine", client=REMOTE, headers=bearer("sk-admin-123456"))
    assert admin.status == 200 and orjson.loads(admin.body)["deployments"] == []
    document = orjson.loads((await call(app, "GET", "/openapi.json", client=LOCAL)).body)
    assert "get" in document["paths"]["/admin/engine"]


async def test_the_sdk_reads_the_engine_rows() -> None:
    app = engine_app()
    transport = httpx.ASGITransport(app=app, client=LOCAL)
    async with AsyncClient("http://127.0.0.1", transport=transport, retry=None) as client:
        assert await client.admin.engine() == {"deployments": [], "presets": preset_names()}
        reply = await client.chat("hi", model="gpt-4o-mini", max_tokens=4)
        assert reply.output_tokens is not None
        status = await client.admin.engine()
    assert [row["deployment"] for row in status["deployments"]] == ["pool", "pool"]
    assert sum(row["generated_tokens"] for row in status["deployments"]) == reply.output_tokens
    refused = httpx.ASGITransport(app=app, client=REMOTE)
    async with AsyncClient("http://127.0.0.1", transport=refused, retry=None) as client:
        with pytest.raises(PermissionDeniedError) as refusal:
            await client.admin.engine()
    assert refusal.value.status == 403 and refusal.value.code == "admin_forbidden"
