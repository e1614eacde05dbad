"""Server behaviour in process: system routes, draining, emit-error stats, routing."""

from __future__ import annotations

import asyncio

import orjson

from llm_simulator.config import load_config
from llm_simulator.core.http import HttpRequest, Response, Route
from llm_simulator.server.app import SimulatorApp
from llm_simulator.server.routing import Match, Router
from tests.server.asgi_driver import call

STREAM_BODY = orjson.dumps(
    {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 40,
        "ignore_eos": True,
        "stream": True,
    }
)


def make_app(**flags: object) -> SimulatorApp:
    return SimulatorApp(load_config(flags={"latency.multiplier": 0.02, **flags}))


async def test_health_version_ready() -> None:
    app = make_app()
    assert (await call(app, "GET", "/health")).status == 200
    version = orjson.loads((await call(app, "GET", "/version")).body)
    assert version["name"] == "llm-simulator"
    assert (await call(app, "GET", "/ready")).status == 200


async def test_drain_turns_readiness_off_and_lets_streams_finish() -> None:
    app = make_app()
    stream = asyncio.ensure_future(call(app, "POST", "/v1/chat/completions", STREAM_BODY))
    await asyncio.sleep(0.01)
    drain = asyncio.ensure_future(app.drain(deadline_s=10))
    await asyncio.sleep(0)
    ready = await call(app, "GET", "/ready")
    assert ready.status == 503 and orjson.loads(ready.body)["reason"] == "draining"
    result = await stream
    await drain
    assert result.complete and result.body.endswith(b"data: [DONE]\n\n")


async def test_drain_deadline_ends_streams_with_in_stream_error() -> None:
    app = make_app(**{"latency.multiplier": 1.0})
    stream = asyncio.ensure_future(call(app, "POST", "/v1/chat/completions", STREAM_BODY))
    await asyncio.sleep(0.05)
    await app.drain(deadline_s=0.1)
    result = await asyncio.wait_for(stream, timeout=5)
    assert result.status == 200
    assert b"server_shutting_down" in result.body
    assert result.complete
    assert app.stats.active_streams == 0


async def test_disconnect_cancels_stream_and_frees_scheduler() -> None:
    app = make_app(**{"latency.multiplier": 1.0})
    gone = asyncio.Event()
    stream = asyncio.ensure_future(call(app, "POST", "/v1/chat/completions", STREAM_BODY, disconnect=gone))
    await asyncio.sleep(0.05)
    gone.set()
    await asyncio.wait_for(stream, timeout=5)
    assert app.stats.active_streams == 0
    app.sim.scheduler.purge_cancelled()
    assert len(app.sim.scheduler) == 0


async def test_emit_error_is_recorded() -> None:
    app = make_app()
    await call(app, "POST", "/v1/chat/completions", STREAM_BODY)
    stats = orjson.loads((await call(app, "GET", "/admin/stats")).body)
    assert stats["emit_error"]["late"]["count"] + stats["emit_error"]["early"]["count"] > 0
    assert any(r["endpoint"] == "chat" and r["status"] == 200 for r in stats["requests"])
    assert (await call(app, "POST", "/admin/stats/reset")).status == 200
    stats = orjson.loads((await call(app, "GET", "/admin/stats")).body)
    assert stats["emit_error"]["late"]["count"] == 0


async def test_admin_drain_marks_not_ready() -> None:
    app = make_app()
    assert (await call(app, "POST", "/admin/drain")).status == 200
    assert (await call(app, "GET", "/ready")).status == 503


def test_router_params_and_methods() -> None:
    app = make_app()
    router: Router = app.router
    found = router.match("GET", "/v1/models/ft:gpt-4o:org/abc", {}, {})
    assert isinstance(found, Match) and found.params == {"model": "ft:gpt-4o:org/abc"}
    assert found.provider.name == "openai"
    assert router.match("GET", "/v1/chat/completions", {}, {}) == ["POST"]
    assert router.match("GET", "/nope", {}, {}) is None


def test_router_picks_the_provider_by_header_on_shared_paths() -> None:
    router: Router = make_app().router
    for path in ("/v1/models", "/v1/models/claude-sonnet-4-5"):
        plain = router.match("GET", path, {}, {})
        anthropic = router.match("GET", path, {"anthropic-version": "2023-06-01"}, {})
        assert isinstance(plain, Match) and plain.provider.name == "openai"
        assert isinstance(anthropic, Match) and anthropic.provider.name == "anthropic"


async def test_unrouted_requests_get_the_error_shape_of_the_client_they_come_from() -> None:
    app = make_app()
    openai_style = await call(app, "GET", "/v1/nope")
    assert openai_style.status == 404 and set(orjson.loads(openai_style.body)["error"]) >= {"message", "type"}

    anthropic_style = await call(app, "GET", "/v1/nope", headers={"anthropic-version": "2023-06-01"})
    body = orjson.loads(anthropic_style.body)
    assert anthropic_style.status == 404
    assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
    assert anthropic_style.headers["request-id"] == body["request_id"]

    for path, headers, query in (
        ("/v1beta/nope", {}, ""),
        ("/v1/tunedModels/gemini-2.5-flash:nope", {}, ""),
        ("/v1/nope", {"x-goog-api-key": "k"}, ""),
        ("/v1/nope", {}, "key=k"),
    ):
        gemini_style = await call(app, "GET", path, headers=headers, query=query)
        error = orjson.loads(gemini_style.body)["error"]
        assert gemini_style.status == 404, path
        assert error["code"] == 404 and error["status"] == "NOT_FOUND", path
        assert gemini_style.headers["x-request-id"].startswith("req_"), path


async def test_models_list_shape_follows_the_client() -> None:
    app = make_app()
    openai_list = orjson.loads((await call(app, "GET", "/v1/models")).body)
    assert openai_list["object"] == "list"
    anthropic_list = orjson.loads((await call(app, "GET", "/v1/models", headers={"anthropic-version": "x"})).body)
    assert {"data", "has_more", "first_id", "last_id"} <= set(anthropic_list)
    assert all(m["type"] == "model" for m in anthropic_list["data"])
    gemini_list = orjson.loads((await call(app, "GET", "/v1/models", query="key=k")).body)
    assert all(m["name"].startswith("models/") for m in gemini_list["models"])


async def test_wrong_method_lists_the_allowed_ones() -> None:
    response = await call(make_app(), "GET", "/v1/chat/completions")
    assert response.status == 405
    assert response.headers["allow"] == "POST"


async def test_wrong_method_on_a_gemini_method_path_gets_geminis_shape() -> None:
    # GET /v1/models/{model} (OpenAI's) and POST /v1/models/{model}:method (Gemini's) share the
    # path; a ":method" path is Gemini's, so its 405 is in Google's shape.
    response = await call(make_app(), "TRACE", "/v1/models/gemini-2.5-flash:generateContent")
    assert response.status == 405
    error = orjson.loads(response.body)["error"]
    assert "status" in error and error["code"] == 405, error


async def test_gemini_actions_are_counted_under_their_own_endpoint() -> None:
    app = make_app()
    contents = orjson.dumps({"contents": [{"parts": [{"text": "hello"}]}]})
    embed = orjson.dumps({"requests": [{"content": {"parts": [{"text": "hello"}]}}]})
    assert (await call(app, "POST", "/v1beta/models/gemini-2.5-flash:countTokens", contents)).status == 200
    assert (await call(app, "POST", "/v1beta/models/text-embedding-004:batchEmbedContents", embed)).status == 200
    assert (await call(app, "POST", "/v1beta/models/gemini-2.5-flash:countTokens", b"{}")).status == 400
    rows = orjson.loads((await call(app, "GET", "/admin/stats")).body)["requests"]
    counted = {(r["provider"], r["endpoint"], r["status"]): r["count"] for r in rows}
    assert counted[("gemini", "count_tokens", 200)] == 1
    assert counted[("gemini", "embedding", 200)] == 1
    assert counted[("gemini", "count_tokens", 400)] == 1


def test_a_path_whose_routes_all_decline_the_request_is_not_routed() -> None:
    async def handler(request: HttpRequest) -> Response:
        raise AssertionError("not reached")

    router = Router()
    provider = make_app().default_provider
    router.add(Route("GET", "/only-for-some", handler, "x", lambda headers, query: "x-some" in headers), provider)
    assert router.match("GET", "/only-for-some", {}, {}) is None
    assert isinstance(router.match("GET", "/only-for-some", {"x-some": "1"}, {}), Match)
