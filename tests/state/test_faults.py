"""Faults of the state backend itself, with a real redis-server stopped and started again.

Unreachable at start-up: ``serve`` exits non-zero with one clear line. Lost at run time:
``fail_open`` serves from local state, ``fail_closed`` answers the provider's own 503; either
way no 500, no hang, a counter and one log line per transition, and recovery when Redis is back.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from llm_simulator.testing.server import SubprocessServer, free_port
from tests.state.fleet import CHAT, fleet_config, replicas
from tests.state.redis_server import RedisServer

# However long a request may take while Redis is gone: the socket timeouts are 0.3 s.
NO_HANG_S = 5.0
HEADERS = {"authorization": "Bearer sk-f"}


def _state_metrics(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics", timeout=10).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("llm_simulator_state_backend_") and not sample.name.endswith("_created")
    }


def _log(server: SubprocessServer) -> str:
    assert server._dir is not None
    return "".join(p.read_text(errors="replace") for p in Path(server._dir).glob("server-*.log"))


def _timed_chat(url: str, body: dict[str, object] = CHAT) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.post(url + "/v1/chat/completions", json=body, headers=HEADERS, timeout=30)
    return response, time.monotonic() - started


def test_unreachable_at_start_up_is_a_clear_error() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    done = subprocess.run(
        [sys.executable, "-m", "llm_simulator.cli.main", "serve", "--port", "0", "--state", url],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Redis is unreachable" in done.stderr
    assert "hunter2" not in done.stderr  # the password is never echoed
    assert "Traceback" not in done.stderr


def test_lost_at_run_time_fails_open_and_recovers(redis_server: RedisServer) -> None:
    with replicas(fleet_config(redis_server), 1) as (server,):
        assert _timed_chat(server.url)[0].status_code == 200
        assert _state_metrics(server.url)["llm_simulator_state_backend_up"] == 1
        redis_server.stop()
        for _ in range(5):
            response, took = _timed_chat(server.url)
            assert response.status_code == 200  # served from local state
            assert took < NO_HANG_S
        metrics = _state_metrics(server.url)
        assert metrics["llm_simulator_state_backend_up"] == 0
        assert metrics["llm_simulator_state_backend_errors_total"] >= 1
        assert metrics["llm_simulator_state_backend_fallbacks_total"] >= 5
        redis_server.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert _timed_chat(server.url)[0].status_code == 200
            if _state_metrics(server.url)["llm_simulator_state_backend_up"] == 1:
                break
            time.sleep(0.2)
        metrics = _state_metrics(server.url)
        assert metrics["llm_simulator_state_backend_up"] == 1
        assert metrics["llm_simulator_state_backend_transitions_total"] == 2
        log = _log(server)
        # One line per transition, however many requests met the outage.
        assert log.count("state backend unreachable") == 1, log
        assert log.count("state backend reachable again") == 1, log


def test_lost_at_run_time_fails_closed_with_the_providers_503(redis_server: RedisServer) -> None:
    config = fleet_config(redis_server)
    config["state"]["on_error"] = "fail_closed"
    with replicas(config, 1) as (server,):
        assert _timed_chat(server.url)[0].status_code == 200
        redis_server.stop()
        response, took = _timed_chat(server.url)
        assert took < NO_HANG_S
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "state_backend_unavailable"
        assert "retry-after" in response.headers
        anthropic = httpx.post(
            server.url + "/v1/messages",
            json={"model": "claude-haiku-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": "sk-f", "anthropic-version": "2023-06-01"},
            timeout=30,
        )
        assert anthropic.status_code in (503, 529)
        assert anthropic.json()["type"] == "error"
        assert _state_metrics(server.url)["llm_simulator_state_backend_refusals_total"] >= 2
        redis_server.start()
        deadline = time.monotonic() + 10
        while _timed_chat(server.url)[0].status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _timed_chat(server.url)[0].status_code == 200
