"""``server.state`` events from a real ``serve`` process: start-up, drain and shutdown, in order."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from tests.live import live_server


def _config(tmp_path: Path) -> tuple[Path, Path]:
    events = tmp_path / "events.jsonl"
    config = tmp_path / "simulator.yaml"
    # flush_interval_s small so nothing waits on the timer; the close flushes anyway.
    sink = {"type": "jsonl", "path": str(events), "flush_interval_s": 0.1}
    config.write_text(yaml.safe_dump({"telemetry": {"events": {"sinks": [sink]}}}), encoding="utf-8")
    return config, events


def _states(events: Path) -> list[dict[str, Any]]:
    lines = [orjson.loads(line) for line in events.read_text().splitlines() if line]
    return [e for e in lines if e["event"] == "server.state"]


@pytest.mark.parametrize("server_impl", ["granian", "uvicorn"])
def test_sigterm_reports_ready_draining_stopped_in_order(tmp_path: Path, server_impl: str) -> None:
    config, events = _config(tmp_path)
    with live_server("--config", str(config), "--server", server_impl, "--drain-timeout", "1") as live:
        assert httpx.get(live.url + "/ready", timeout=5).status_code == 200
        pid = live.process.pid
        live.process.send_signal(signal.SIGTERM)
        assert live.process.wait(timeout=30) == 0
    states = _states(events)
    assert [(e["previous"], e["state"]) for e in states] == [
        (None, "initialising"),
        ("initialising", "ready"),
        ("ready", "draining"),
        ("draining", "stopped"),
    ]
    assert [e["reason"] for e in states] == ["start-up", "start-up", "SIGTERM", "shutdown"]
    stamps = [e["ts"] for e in states]
    assert stamps == sorted(stamps)
    assert all(e["schema"] == "llm_simulator.event/v1" for e in states)
    # The worker's pid: the serve process itself (one worker) or its child, never ours.
    workers = {e["pid"] for e in states}
    assert len(workers) == 1 and os.getpid() not in workers and pid > 0


def test_admin_drain_is_the_reason_when_it_comes_first(tmp_path: Path) -> None:
    config, events = _config(tmp_path)
    with live_server("--config", str(config), "--drain-timeout", "1") as live:
        assert httpx.post(live.url + "/admin/drain", timeout=5).status_code == 200
        assert httpx.get(live.url + "/ready", timeout=5).status_code == 503
        live.process.send_signal(signal.SIGTERM)
        assert live.process.wait(timeout=30) == 0
    states = _states(events)
    # The signal after the pre-stop drain changes nothing: the instance was draining already.
    assert [(e["state"], e["reason"]) for e in states] == [
        ("initialising", "start-up"),
        ("ready", "start-up"),
        ("draining", "admin drain"),
        ("stopped", "shutdown"),
    ]


def test_readiness_reports_each_change_once_and_never_leaves_stopped() -> None:
    from llm_simulator.server.system_routes import Readiness

    seen: list[tuple[str, str | None, str]] = []
    readiness = Readiness()
    readiness.listener = lambda state, previous, reason: seen.append((state, previous, reason))
    readiness.transition("ready", "start-up")
    readiness.draining = True  # POST /admin/drain
    readiness.transition("draining", "SIGTERM")  # already draining: no event
    readiness.draining = False  # an operator takes the drain back
    readiness.transition("stopped", "shutdown")
    readiness.transition("draining", "SIGTERM")  # too late: the worker has stopped
    assert seen == [
        ("ready", "initialising", "start-up"),
        ("draining", "ready", "admin drain"),
        ("ready", "draining", "admin undrain"),
        ("stopped", "ready", "shutdown"),
    ]
    assert readiness.draining and readiness.state == "stopped"
