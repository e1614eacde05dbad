"""Log configuration of server workers."""

from __future__ import annotations

import logging

import orjson
import pytest

from llm_simulator.server.factory import JsonLineFormatter, configure_logging


def test_json_logs_are_one_object_per_line() -> None:
    record = logging.LogRecord("llm_simulator.server", logging.WARNING, __file__, 1, "hello %s", ("x",), None)
    entry = orjson.loads(JsonLineFormatter().format(record))
    assert entry["level"] == "warning" and entry["message"] == "hello x"


def test_configure_logging_sets_level(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("warning", json_logs=True)
    logger = logging.getLogger("llm_simulator.server")
    logger.info("hidden")
    logger.warning("shown")
    err = capsys.readouterr().err
    assert "hidden" not in err
    assert orjson.loads(err.strip().splitlines()[-1])["message"] == "shown"


async def test_the_access_log_carries_the_request_id(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llm_simulator.config import load_config
    from llm_simulator.server.app import SimulatorApp
    from tests.server.asgi_driver import call

    # configure_logging (another test) stops propagation to the root, where caplog listens.
    monkeypatch.setattr(logging.getLogger("llm_simulator"), "propagate", True)
    app = SimulatorApp(load_config(flags={"latency.enabled": False, "logging.access_log": True}))
    with caplog.at_level(logging.INFO, logger="llm_simulator.access"):
        got = await call(app, "GET", "/v1/models", headers={"x-request-id": "req-from-client-1"})
    assert got.headers["x-request-id"] == "req-from-client-1"
    records = [r for r in caplog.records if r.name == "llm_simulator.access"]
    assert {r.getMessage() for r in records} == {records[0].getMessage()}  # one line (captured once or twice)
    record = records[0]
    assert record.getMessage() == f"GET /v1/models 200 {record.duration_ms:.1f}ms req-from-client-1"  # type: ignore[attr-defined]
    entry = orjson.loads(JsonLineFormatter().format(record))
    assert (entry["request_id"], entry["status"], entry["provider"], entry["endpoint"]) == (
        "req-from-client-1",
        200,
        "openai",
        "models",
    )


async def test_no_access_log_unless_asked(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_simulator.config import load_config
    from llm_simulator.server.app import SimulatorApp
    from tests.server.asgi_driver import call

    monkeypatch.setattr(logging.getLogger("llm_simulator"), "propagate", True)
    app = SimulatorApp(load_config(flags={"latency.enabled": False}))
    with caplog.at_level(logging.INFO, logger="llm_simulator.access"):
        await call(app, "GET", "/v1/models")
    assert not [r for r in caplog.records if r.name == "llm_simulator.access"]


def test_control_characters_in_a_path_cannot_forge_log_lines() -> None:
    from llm_simulator.server.connection import printable

    assert printable("/v1/x\nfake-log-line\r") == "/v1/x\\nfake-log-line\\r"
    assert printable("/v1/models") == "/v1/models"
